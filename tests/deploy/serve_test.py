"""slimpipe-serve end to end, with the standard library's HTTP client (python3 -I -S).
Usage: serve_test.py SLIMPIPE_SERVE SEQ_CLS_PACKAGE QA_PACKAGE SCRATCH_DIR"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

SERVE, PKG, QA_PKG, SCRATCH = sys.argv[1:5]


class Server:
    def __init__(self, *args, package=PKG):
        self.proc = subprocess.Popen([SERVE, package, "--port", "0", "--threads", "1", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError("slimpipe-serve did not start: %r %r" % (line, self.proc.stderr.read()))
        self.port = int(line.rsplit(":", 1)[1])

    def request(self, method, path, body=None, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
            r = conn.getresponse()
            data = r.read().decode()
            return r.status, (json.loads(data) if r.getheader("Content-Type") == "application/json" else data)
        finally:
            conn.close()

    def predict(self, inputs, **kw):
        return self.request("POST", "/v1/predict", json.dumps({"inputs": inputs}), **kw)

    def terminate(self):
        self.signalled = True
        self.proc.send_signal(signal.SIGTERM)

    def stop(self):
        if self.proc.poll() is None and not getattr(self, "signalled", False):
            self.terminate()
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, err


def metric(text, name):
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


class ServeTest(unittest.TestCase):
    def test_predict_health_metrics_and_errors(self):
        s = Server("--max-body-bytes", "4096", "--max-text-bytes", "100", "--max-inputs", "4")
        try:
            status, body = s.request("GET", "/healthz")
            self.assertEqual((status, body["status"], body["task"]), (200, "ok", "seq_cls"))
            status, body = s.predict(["a great movie", "the plot was dull"])
            self.assertEqual(status, 200)
            self.assertEqual(len(body), 2)
            for r in body:
                self.assertEqual(set(r), {"label", "score"})
                self.assertIn(r["label"], ["negative", "neutral", "positive"])
            self.assertEqual(s.predict("a great movie")[1], body[:1])  # one text, not in a list
            self.assertEqual(s.predict([]), (200, []))
            cases = [
                ("{\"inputs\": [\"a", 400, "malformed_json"),
                ("[1, 2]", 400, "bad_request"),
                ("{\"text\": \"a\"}", 400, "bad_request"),
                (json.dumps({"inputs": ["ok", 5]}), 400, "bad_request"),
                (json.dumps({"inputs": ["x" * 101]}), 400, "text_too_long"),
                (json.dumps({"inputs": ["a"] * 5}), 413, "too_many_inputs"),
                ("[" * 100000, 413, "body_too_large"),
                ("[" * 1000, 400, "malformed_json"),
                ("{\"inputs\": \"\xff\"}", 400, "malformed_json"),
            ]
            for payload, code, kind in cases:
                status, body = s.request("POST", "/v1/predict", payload)
                self.assertEqual((status, body["error_type"]), (code, kind), payload[:40])
                self.assertNotIn("\n", body["error"])
            self.assertIn("inputs[0]: 101 bytes, the limit is 100", s.predict(["x" * 101])[1]["error"])
            self.assertEqual(s.request("GET", "/v1/predict")[0], 405)
            self.assertEqual(s.request("GET", "/nope")[0], 404)
            # A client that goes away in the middle of its request, and garbage instead of HTTP.
            with socket.create_connection(("127.0.0.1", s.port)) as raw:
                raw.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"in")
            with socket.create_connection(("127.0.0.1", s.port)) as raw:
                raw.sendall(b"\x00\x01 not http at all\r\n\r\n")
                self.assertIn(b"400", raw.recv(4096))
            status, metrics = s.request("GET", "/metrics")
            self.assertEqual(status, 200)
            self.assertEqual(metric(metrics, 'slimpipe_requests_total{code="200"}'), 4)
            self.assertEqual(metric(metrics, 'slimpipe_errors_total{kind="malformed_json"}'), 3)
            self.assertEqual(metric(metrics, "slimpipe_inputs_total"), 3)
            self.assertIn("slimpipe_request_duration_seconds_bucket{le=\"+Inf\"}", metrics)
            self.assertEqual(s.request("GET", "/healthz")[0], 200)  # still up
        finally:
            code, err = s.stop()
        self.assertEqual(code, 0, err)
        self.assertIn("drained", err)

    def test_dynamic_batching_queue_and_drain(self):
        s = Server("--max-delay-ms", "300", "--max-batch", "8", "--max-queue", "6", "--max-inputs", "6")
        try:
            results = {}

            def post(i):
                results[i] = s.predict(["a great movie", "bad plot"])

            threads = [threading.Thread(target=post, args=(i,)) for i in range(3)]
            for t in threads:
                t.start()
            time.sleep(0.1)
            # 6 inputs wait for the batch to fill or the delay to pass: the queue (6) is full.
            status, body = s.predict(["a"])
            self.assertEqual((status, body["error_type"]), (503, "queue_full"))
            for t in threads:
                t.join()
            self.assertEqual([results[i][0] for i in range(3)], [200, 200, 200])
            metrics = s.request("GET", "/metrics")[1]
            # The three requests' six inputs went through one model call.
            self.assertEqual(metric(metrics, "slimpipe_batch_size_count"), 1)
            self.assertEqual(metric(metrics, "slimpipe_batch_size_sum"), 6)
            # SIGTERM while a request waits in the queue: it is answered, then the server exits 0.
            pending = {}
            t = threading.Thread(target=lambda: pending.update(r=s.predict(["a great movie"])))
            t.start()
            time.sleep(0.1)
            s.terminate()
            s.terminate()  # a second signal while draining changes nothing
            t.join()
            self.assertEqual(pending["r"][0], 200)
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", s.port), timeout=2).close()
        finally:
            code, err = s.stop()
        self.assertEqual(code, 0, err)

    def test_rank_folder_and_refusals(self):
        rank = os.path.join(SCRATCH, "rank")
        shutil.rmtree(rank, ignore_errors=True)
        shutil.copytree(PKG, os.path.join(rank, "runtime"))
        s = Server(package=rank)
        try:
            self.assertEqual(s.predict(["a great movie"])[0], 200)
        finally:
            self.assertEqual(s.stop()[0], 0)
        r = subprocess.run([SERVE, SCRATCH, "--port", "0"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.strip().count("\n"), 0, r.stderr)
        self.assertIn("holds neither package.json nor runtime/package.json", r.stderr)
        r = subprocess.run([SERVE, PKG, "--max-batch", "0"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--max-batch: expected an integer in [1, 4096], got '0'", r.stderr)


    def test_token_cls_and_qa(self):
        s = Server(package=os.path.join(os.path.dirname(PKG), "token_cls"))
        try:
            status, body = s.predict(["a great movie , the plot was dull", "good"])
            self.assertEqual((status, len(body)), (200, 2))
            text = "a great movie , the plot was dull"
            for entities in body:
                self.assertIsInstance(entities, list)
            for e in body[0]:
                self.assertEqual(set(e), {"entity_group", "word", "start", "end", "score"})
                self.assertEqual(text[e["start"]:e["end"]], e["word"])
        finally:
            self.assertEqual(s.stop()[0], 0)
        s = Server(package=QA_PKG)
        try:
            q = {"question": "what was dull ?", "context": "the plot was dull but the movie was great ."}
            status, body = s.predict([q, q])
            self.assertEqual((status, len(body)), (200, 2))
            a = body[0]
            self.assertEqual(set(a), {"answer", "start", "end", "score"})
            self.assertEqual(q["context"][a["start"]:a["end"]], a["answer"])
            self.assertEqual(s.request("POST", "/v1/predict", json.dumps({"inputs": q}))[1], body[:1])
            status, err = s.predict(["just a text"])
            self.assertEqual((status, err["error_type"]), (400, "bad_request"))
            self.assertIn('inputs[0] must be an object with "question" and "context"', err["error"])
        finally:
            self.assertEqual(s.stop()[0], 0)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
