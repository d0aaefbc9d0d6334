"""The Python module (runtime/python/slimpipe_runtime.py) with Debian's python3 -I -S: the standard library only.
Usage: python3 -I -S python_test.py MODULE_DIR SEQ_CLS_PACKAGE QA_PACKAGE  (SLIMPIPE_RUNTIME_LIB: the C library)"""
import os
import sys
import threading
import unittest

MODULE_DIR, PKG, QA_PKG = sys.argv[1:4]
sys.path.insert(0, MODULE_DIR)
import slimpipe_runtime as sr  # noqa: E402


class ClassifierTest(unittest.TestCase):
    def test_nothing_outside_the_standard_library(self):
        self.assertNotIn("site", sys.modules)  # -S: no site-packages on the path
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None) or ""
            self.assertNotIn("-packages", path, name)

    def test_predict(self):
        clf = sr.Classifier(PKG)
        self.assertEqual(clf.labels, ["negative", "neutral", "positive"])
        self.assertEqual(clf.max_seq_length, 32)
        preds = clf.predict(["a great movie", "the plot was dull !", "caf\u00e9 \u4e2d\u6587 not good"])
        self.assertEqual(len(preds), 3)
        for p in preds:
            self.assertEqual(set(p), {"label", "score"})
            self.assertIn(p["label"], clf.labels)
            self.assertTrue(0 < p["score"] <= 1)
        full = clf.predict(["a great movie"], all_scores=True)[0]
        self.assertAlmostEqual(sum(full["scores"].values()), 1.0, places=5)
        self.assertEqual(full["label"], max(full["scores"], key=full["scores"].get))
        self.assertEqual(full["label"], preds[0]["label"])
        self.assertAlmostEqual(full["score"], preds[0]["score"], places=5)
        # Batches of one (no padding): the same logits.
        one = clf.predict(["a great movie", "the plot was dull !"], batch_size=1, all_scores=True)
        two = clf.predict(["a great movie", "the plot was dull !"], batch_size=2, all_scores=True)
        for a, b in zip(one, two):
            for x, y in zip(a["logits"], b["logits"]):
                self.assertAlmostEqual(x, y, places=4)
        self.assertEqual(clf.predict([]), [])
        self.assertEqual(len(clf.predict_pairs(["great movie"], ["bad plot"])), 1)
        long_text = "movie " * 500
        self.assertEqual(len(clf.predict([long_text])), 1)  # truncated to max_seq_length
        clf.close()
        with self.assertRaisesRegex(sr.Error, "after close"):
            clf.predict(["a"])

    def test_threads(self):
        with sr.Classifier(PKG, verify=False) as clf:
            expected = clf.predict(["a great movie"] * 4)
            results, errors = [], []

            def work():
                try:
                    for _ in range(20):
                        results.append(clf.predict(["a great movie"] * 4))
                except Exception as e:  # noqa: BLE001
                    errors.append(e)

            ts = [threading.Thread(target=work) for _ in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            self.assertEqual(errors, [])
            self.assertEqual(len(results), 80)
            for r in results:
                self.assertEqual([p["label"] for p in r], [p["label"] for p in expected])

    def test_errors(self):
        with self.assertRaisesRegex(sr.Error, "^/nonexistent/pkg/package.json: not found"):
            sr.Classifier("/nonexistent/pkg")
        with self.assertRaisesRegex(sr.Error, "task qa, a Classifier runs seq_cls packages"):
            sr.Classifier(QA_PKG)
        clf = sr.Classifier(PKG)
        with self.assertRaisesRegex(TypeError, "list of str"):
            clf.predict("a great movie")
        with self.assertRaisesRegex(TypeError, r"texts\[1\] must be str"):
            clf.predict(["a", 3])
        with self.assertRaisesRegex(ValueError, "NUL"):
            clf.predict(["a\0b"])
        with self.assertRaisesRegex(ValueError, "batch_size"):
            clf.predict(["a"], batch_size=0)
        with self.assertRaisesRegex(ValueError, "1 first texts but 2 second texts"):
            clf.predict_pairs(["a"], ["b", "c"])
        with self.assertRaisesRegex(sr.Error, "must be >= 1"):
            sr.set_threads(0)

    def test_module_functions(self):
        self.assertEqual(sr.package_task(PKG), "seq_cls")
        self.assertEqual(sr.package_task(QA_PKG), "qa")
        sr.set_threads(1)
        self.assertEqual(sr.threads(), 1)
        self.assertTrue(sr.cpu_isa())
        self.assertEqual(os.path.realpath(sr.library_path()), os.path.realpath(os.environ["SLIMPIPE_RUNTIME_LIB"]))


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
