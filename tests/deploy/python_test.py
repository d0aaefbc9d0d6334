"""The Python module (runtime/python/slimpipe_runtime.py) with Debian's python3 -I -S: the standard library only.
Usage: python3 -I -S -B python_test.py MODULE_DIR PACKAGES_DIR  (SLIMPIPE_RUNTIME_LIB: the C library)
PACKAGES_DIR holds what `make_test_package --all` writes: seq_cls/, token_cls/, qa/, damaged/ (a token_cls package
whose weights.bin no longer matches its SHA-1), token_cls_strict/ and qa_short/ (package.json records strict IOB2
chunking; n_best_size 5 and max_answer_length 1)."""
import os
import sys
import threading
import unittest

MODULE_DIR, PACKAGES = sys.argv[1:3]
PKG, TOKEN_PKG, QA_PKG, DAMAGED_PKG, STRICT_PKG, SHORT_PKG = (
    os.path.join(PACKAGES, k) for k in ("seq_cls", "token_cls", "qa", "damaged", "token_cls_strict", "qa_short")
)
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
        self.assertEqual(sr.package_task(TOKEN_PKG), "token_cls")
        sr.set_threads(1)
        self.assertEqual(sr.threads(), 1)
        self.assertTrue(sr.cpu_isa())
        self.assertEqual(os.path.realpath(sr.library_path()), os.path.realpath(os.environ["SLIMPIPE_RUNTIME_LIB"]))


TAG_TEXTS = [
    "a great movie was not bad",
    "caf\u00e9 \u4e2d\u6587 the plot , good film !",
    "",
    "the  film\tis   very good . the story was dull",
    "a great movie , the plot was not bad , a good film , the story was dull , not very good ! the movie was bad , "
    "not a great story .",
]


def spans(entities):
    return [(e["type"], e["start"], e["end"]) for e in entities]


class TaggerTest(unittest.TestCase):
    def check_entities(self, text, entities):
        end = 0
        for e in entities:
            self.assertEqual(set(e), {"type", "text", "start", "end", "byte_start", "byte_end", "score"})
            self.assertEqual(e["type"], "MISC")
            self.assertEqual(text[e["start"]:e["end"]], e["text"])  # offsets in characters of the str
            self.assertEqual(text.encode("utf-8")[e["byte_start"]:e["byte_end"]].decode("utf-8"), e["text"])
            self.assertTrue(e["text"] and not e["text"][0].isspace() and not e["text"][-1].isspace())
            self.assertGreaterEqual(e["start"], end)
            end = e["end"]
            self.assertTrue(0 < e["score"] <= 1)

    def test_predict(self):
        tagger = sr.Tagger(TOKEN_PKG)
        self.assertEqual(tagger.labels, ["O", "B-MISC", "I-MISC"])
        self.assertEqual(tagger.max_seq_length, 32)
        result = tagger.predict(TAG_TEXTS)
        self.assertEqual(len(result), len(TAG_TEXTS))
        for text, entities in zip(TAG_TEXTS, result):
            self.assertIsInstance(entities, list)
            self.check_entities(text, entities)
        self.assertEqual(result[2], [])
        self.assertGreater(sum(len(r) for r in result), 0)
        # details=True: the same entities, and whether each text was cut at max_seq_length (32 tokens).
        detailed = tagger.predict(TAG_TEXTS + ["word " * 40], details=True)
        self.assertEqual([d["entities"] for d in detailed[:-1]], result)
        self.assertEqual([d["truncated"] for d in detailed][:4], [False] * 4)  # the fifth text is long too
        self.assertTrue(detailed[-1]["truncated"])
        # Batches of one (no padding): the same entities.
        one = tagger.predict(TAG_TEXTS, batch_size=1)
        for a, b in zip(one, result):
            self.assertEqual(spans(a), spans(b))
            for x, y in zip(a, b):
                self.assertAlmostEqual(x["score"], y["score"], places=5)
        self.assertEqual(tagger.predict([]), [])
        # A package without recorded chunking chunks leniently by default; a strict mode gives entities of the same
        # form, a subset of the lenient ones here (B-MISC I-MISC tags), fewer on these texts.
        with sr.Tagger(TOKEN_PKG, chunk_mode="lenient") as lenient:
            self.assertEqual(lenient.predict(TAG_TEXTS), result)
        with sr.Tagger(TOKEN_PKG, verify=False, chunk_mode="strict_iob2") as strict:
            strict_result = strict.predict(TAG_TEXTS)
        self.assertNotEqual(strict_result, result)
        for text, entities, loose in zip(TAG_TEXTS, strict_result, result):
            self.check_entities(text, entities)
            for e in entities:
                self.assertIn((e["start"], e["end"]), [(x["start"], x["end"]) for x in loose])
        # A package that records strict chunking (the pipeline's [task]) chunks so by default; chunk_mode overrides.
        with sr.Tagger(STRICT_PKG) as recorded:
            self.assertEqual(recorded.predict(TAG_TEXTS), strict_result)
        with sr.Tagger(STRICT_PKG, chunk_mode="lenient") as overridden:
            self.assertEqual(overridden.predict(TAG_TEXTS), result)
        tagger.close()
        with self.assertRaisesRegex(sr.Error, "Tagger: used after close"):
            tagger.predict(["a"])

    def test_threads(self):
        with sr.Tagger(TOKEN_PKG) as tagger:
            expected = tagger.predict(TAG_TEXTS)
            results, errors = [], []

            def work():
                try:
                    for _ in range(10):
                        results.append(tagger.predict(TAG_TEXTS, batch_size=2))
                except Exception as e:  # noqa: BLE001
                    errors.append(e)

            ts = [threading.Thread(target=work) for _ in range(3)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            self.assertEqual(errors, [])
            self.assertEqual(len(results), 30)
            for r in results:
                self.assertEqual([[e["text"] for e in t] for t in r], [[e["text"] for e in t] for t in expected])

    def test_errors(self):
        with self.assertRaisesRegex(sr.Error, "task seq_cls, a Tagger runs token_cls packages"):
            sr.Tagger(PKG)
        with self.assertRaisesRegex(sr.Error, "task qa, a Tagger runs token_cls packages"):
            sr.Tagger(QA_PKG)
        with self.assertRaisesRegex(sr.Error, "task token_cls, a Classifier runs seq_cls packages"):
            sr.Classifier(TOKEN_PKG)
        with self.assertRaisesRegex(sr.Error, "^/nonexistent/pkg/package.json: not found"):
            sr.Tagger("/nonexistent/pkg")
        with self.assertRaisesRegex(sr.Error, r"damaged/weights\.bin: SHA-1 [0-9a-f]{40} differs from package\.json's"):
            sr.Tagger(DAMAGED_PKG)
        self.assertEqual(len(sr.Tagger(DAMAGED_PKG, verify=False).predict(["a movie"])), 1)
        with self.assertRaisesRegex(ValueError, "chunk_mode must be None or one of lenient, strict_iob2, strict_iobes"):
            sr.Tagger(TOKEN_PKG, chunk_mode="strict")
        tagger = sr.Tagger(TOKEN_PKG)
        with self.assertRaisesRegex(TypeError, "list of str"):
            tagger.predict("a great movie")
        with self.assertRaisesRegex(TypeError, r"texts\[1\] must be str"):
            tagger.predict(["a", None])
        with self.assertRaisesRegex(ValueError, "NUL"):
            tagger.predict(["a\0b"])
        with self.assertRaisesRegex(ValueError, "batch_size"):
            tagger.predict(["a"], batch_size=0)


QUESTIONS = ["what was the movie ?", "was the plot good ?", "what ?", "the film ?"]
CONTEXTS = [
    "the movie was a great film , not a bad story .",
    # several windows: max_seq_length 32, doc_stride 8
    "the plot was dull . the story was not very good , the film was bad . a great movie ? not the plot ! the "
    "caf\u00e9 film was good , the story was great , a movie was dull , the plot was very bad .",
    "",
    "the film was good",
]


class ReaderTest(unittest.TestCase):
    def check_answer(self, context, a):
        self.assertEqual(set(a), {"text", "start", "end", "byte_start", "byte_end", "score", "logit_score", "window"})
        self.assertEqual(context[a["start"]:a["end"]], a["text"])  # offsets in characters of the str
        self.assertEqual(context.encode("utf-8")[a["byte_start"]:a["byte_end"]].decode("utf-8"), a["text"])
        if a["text"]:
            self.assertTrue(0 < a["score"] <= 1)
            self.assertGreaterEqual(a["window"], 0)
        else:
            self.assertEqual((a["start"], a["end"], a["score"], a["window"]), (0, 0, 0.0, -1))

    def test_answer(self):
        reader = sr.Reader(QA_PKG)
        self.assertEqual((reader.max_seq_length, reader.doc_stride, reader.max_query_length), (32, 8, 6))
        single = [reader.answer(q, c) for q, c in zip(QUESTIONS, CONTEXTS)]
        for c, a in zip(CONTEXTS, single):
            self.check_answer(c, a)
        self.assertTrue(single[0]["text"] and single[1]["text"] and single[3]["text"])
        self.assertEqual(single[2]["text"], "")  # an empty context has no span
        # The batched forms, pairs or dicts, with any batch size: the same answers.
        pairs = list(zip(QUESTIONS, CONTEXTS))
        dicts = [{"question": q, "context": c} for q, c in pairs]
        for batch in (reader.answer_batch(pairs), reader.answer_batch(dicts, batch_size=1),
                      reader.answer_batch(pairs, batch_size=3)):
            self.assertEqual([(a["text"], a["start"], a["end"]) for a in batch],
                             [(a["text"], a["start"], a["end"]) for a in single])
            for a, b in zip(batch, single):
                self.assertAlmostEqual(a["score"], b["score"], places=5)
        self.assertEqual(reader.answer_batch([]), [])
        # max_answer_length 1: one-token answers, no whitespace inside; given as options, or recorded in the package
        # (qa_short: n_best_size 5, max_answer_length 1), where options override it.
        self.assertTrue(any(ch.isspace() for ch in single[1]["text"]))  # the default 30 tokens allow more here
        with sr.Reader(QA_PKG, verify=False, n_best_size=5, max_answer_length=1) as short:
            short_answers = short.answer_batch(pairs)
        for c, a in zip(CONTEXTS, short_answers):
            self.check_answer(c, a)
            self.assertFalse(any(ch.isspace() for ch in a["text"]))
        with sr.Reader(SHORT_PKG) as recorded:
            self.assertEqual(recorded.answer_batch(pairs), short_answers)
        with sr.Reader(SHORT_PKG, n_best_size=20, max_answer_length=30) as overridden:
            self.assertEqual(overridden.answer_batch(pairs), reader.answer_batch(pairs))
        reader.close()
        with self.assertRaisesRegex(sr.Error, "Reader: used after close"):
            reader.answer("a", "b")

    def test_errors(self):
        with self.assertRaisesRegex(sr.Error, "token_cls/package.json: task token_cls, a Reader runs qa packages"):
            sr.Reader(TOKEN_PKG)
        with self.assertRaisesRegex(sr.Error, "task seq_cls, a Reader runs qa packages"):
            sr.Reader(PKG)
        with self.assertRaisesRegex(sr.Error, r"damaged/weights\.bin: SHA-1 .* \(the file is damaged"):
            sr.Reader(DAMAGED_PKG)
        with self.assertRaisesRegex(ValueError, "n_best_size"):
            sr.Reader(QA_PKG, n_best_size=0)
        with self.assertRaisesRegex(ValueError, "max_answer_length"):
            sr.Reader(QA_PKG, max_answer_length="30")
        reader = sr.Reader(QA_PKG)
        with self.assertRaisesRegex(TypeError, "question must be str"):
            reader.answer(None, "the film")
        with self.assertRaisesRegex(ValueError, "context contains a NUL"):
            reader.answer("what ?", "a\0b")
        with self.assertRaisesRegex(TypeError, "list of"):
            reader.answer_batch({"question": "a", "context": "b"})
        with self.assertRaisesRegex(TypeError, r"inputs\[1\] must be a \(question, context\) pair"):
            reader.answer_batch([("a", "b"), "c"])
        with self.assertRaisesRegex(TypeError, r"inputs\[0\] must have 'question' and 'context'"):
            reader.answer_batch([{"question": "a"}])
        with self.assertRaisesRegex(TypeError, r"inputs\[0\] context must be str"):
            reader.answer_batch([("a", 3)])
        with self.assertRaisesRegex(ValueError, "batch_size"):
            reader.answer_batch([("a", "b")], batch_size=-1)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
