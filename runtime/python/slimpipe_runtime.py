"""slimpipe_runtime: run a slimpipe runtime package from Python, with the standard library only (ctypes).

    from slimpipe_runtime import Classifier, Tagger, Reader
    clf = Classifier("runs/quickstart/rank/runtime")
    clf.predict(["a great movie"])   # [{'label': 'positive', 'score': 0.93}]
    Tagger("runs/ner/rank/runtime").predict(["Angela Merkel visited Paris ."])
    # [[{'type': 'PER', 'text': 'Angela Merkel', 'start': 0, 'end': 13, 'score': 0.97}, {'type': 'LOC', ...}]]
    Reader("runs/squad/rank/runtime").answer("Where is the tower?", "The Eiffel Tower is in Paris.")
    # {'text': 'Paris', 'start': 23, 'end': 28, 'score': 0.93}

The C library libslimpipe_runtime_c.so (slimpipe_runtime.h) does the work. It is looked for, in order, at the path
in the environment variable SLIMPIPE_RUNTIME_LIB (the file, or the folder holding it), beside this file, in
../lib and ../../lib from this file (an installed prefix, a build tree), then by the system's loader (ldconfig,
LD_LIBRARY_PATH). Errors are raised as slimpipe_runtime.Error with the library's one-line message.
"""

import ctypes
import os

__all__ = [
    "Classifier", "Tagger", "Reader", "Error", "set_threads", "threads", "cpu_isa", "package_task", "library_path"
]

_LIB_NAME = "libslimpipe_runtime_c.so"


class Error(RuntimeError):
    """A failure reported by the runtime (one line naming the file or argument at fault)."""


class _Classification(ctypes.Structure):
    _fields_ = [
        ("label", ctypes.c_char_p),
        ("label_id", ctypes.c_int32),
        ("score", ctypes.c_float),
        ("scores", ctypes.POINTER(ctypes.c_float)),
        ("logits", ctypes.POINTER(ctypes.c_float)),
    ]


class _Classifications(ctypes.Structure):
    _fields_ = [
        ("count", ctypes.c_size_t),
        ("num_labels", ctypes.c_size_t),
        ("items", ctypes.POINTER(_Classification)),
    ]


class _Entity(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_char_p),
        ("text", ctypes.c_char_p),
        ("start", ctypes.c_size_t),
        ("end", ctypes.c_size_t),
        ("byte_start", ctypes.c_size_t),
        ("byte_end", ctypes.c_size_t),
        ("score", ctypes.c_float),
    ]


class _Tagging(ctypes.Structure):
    _fields_ = [
        ("count", ctypes.c_size_t),
        ("entities", ctypes.POINTER(_Entity)),
        ("truncated", ctypes.c_int),
    ]


class _Taggings(ctypes.Structure):
    _fields_ = [
        ("count", ctypes.c_size_t),
        ("items", ctypes.POINTER(_Tagging)),
    ]


class _Answer(ctypes.Structure):
    _fields_ = [
        ("text", ctypes.c_char_p),
        ("start", ctypes.c_size_t),
        ("end", ctypes.c_size_t),
        ("byte_start", ctypes.c_size_t),
        ("byte_end", ctypes.c_size_t),
        ("score", ctypes.c_float),
        ("logit_score", ctypes.c_double),
        ("window", ctypes.c_int64),
    ]


class _Answers(ctypes.Structure):
    _fields_ = [
        ("count", ctypes.c_size_t),
        ("items", ctypes.POINTER(_Answer)),
    ]


# The chunk modes of Tagger (slimpipe_runtime.h, SLIMPIPE_CHUNK_*).
_CHUNK_MODES = {None: 0, "lenient": 1, "strict_iob2": 2, "strict_iobes": 3}


def _candidates():
    env = os.environ.get("SLIMPIPE_RUNTIME_LIB")
    if env:
        yield os.path.join(env, _LIB_NAME) if os.path.isdir(env) else env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for rel in (".", "../lib", "../../lib", "../../build-rt/lib", "../../build/lib"):
        path = os.path.normpath(os.path.join(here, rel, _LIB_NAME))
        if os.path.exists(path):
            yield path
    yield _LIB_NAME  # the system's loader


_lib = None
_lib_path = None


def _load():
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    tried = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append(str(e))
            continue
        _declare(lib)
        _lib, _lib_path = lib, path
        return lib
    raise Error(
        "cannot load %s (set SLIMPIPE_RUNTIME_LIB to its path): %s" % (_LIB_NAME, "; ".join(tried) or "not found")
    )


def _declare(lib):
    c = ctypes
    p_char = c.c_char_p
    handle = c.c_void_p
    texts = c.POINTER(c.c_char_p)
    out = c.POINTER(c.POINTER(_Classifications))
    sigs = {
        "slimpipe_version": (p_char, []),
        "slimpipe_last_error": (p_char, []),
        "slimpipe_set_threads": (c.c_int, [c.c_int]),
        "slimpipe_threads": (c.c_int, []),
        "slimpipe_cpu_isa": (p_char, []),
        "slimpipe_package_task": (c.c_int, [p_char, c.c_char_p, c.c_size_t]),
        "slimpipe_classifier_load_ex": (handle, [p_char, c.c_int]),
        "slimpipe_classifier_free": (None, [handle]),
        "slimpipe_classifier_num_labels": (c.c_size_t, [handle]),
        "slimpipe_classifier_label": (p_char, [handle, c.c_size_t]),
        "slimpipe_classifier_max_seq_length": (c.c_int64, [handle]),
        "slimpipe_classifier_predict": (c.c_int, [handle, texts, c.c_size_t, c.c_size_t, out]),
        "slimpipe_classifier_predict_pairs": (c.c_int, [handle, texts, texts, c.c_size_t, c.c_size_t, out]),
        "slimpipe_classifications_free": (None, [c.POINTER(_Classifications)]),
        "slimpipe_tagger_load_ex": (handle, [p_char, c.c_int, c.c_int]),
        "slimpipe_tagger_free": (None, [handle]),
        "slimpipe_tagger_num_labels": (c.c_size_t, [handle]),
        "slimpipe_tagger_label": (p_char, [handle, c.c_size_t]),
        "slimpipe_tagger_max_seq_length": (c.c_int64, [handle]),
        "slimpipe_tagger_predict": (
            c.c_int, [handle, texts, c.c_size_t, c.c_size_t, c.POINTER(c.POINTER(_Taggings))]),
        "slimpipe_taggings_free": (None, [c.POINTER(_Taggings)]),
        "slimpipe_reader_load_ex": (handle, [p_char, c.c_int, c.c_size_t, c.c_size_t]),
        "slimpipe_reader_free": (None, [handle]),
        "slimpipe_reader_max_seq_length": (c.c_int64, [handle]),
        "slimpipe_reader_doc_stride": (c.c_int64, [handle]),
        "slimpipe_reader_max_query_length": (c.c_int64, [handle]),
        "slimpipe_reader_answer": (
            c.c_int, [handle, texts, texts, c.c_size_t, c.c_size_t, c.POINTER(c.POINTER(_Answers))]),
        "slimpipe_answers_free": (None, [c.POINTER(_Answers)]),
    }
    for name, (restype, argtypes) in sigs.items():
        f = getattr(lib, name)
        f.restype = restype
        f.argtypes = argtypes


def _error(lib):
    return Error(lib.slimpipe_last_error().decode("utf-8", "replace"))


def _encode(texts, what):
    if isinstance(texts, (str, bytes)):
        raise TypeError("%s must be a list of str, not a single %s" % (what, type(texts).__name__))
    out = []
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError("%s[%d] must be str, not %s" % (what, i, type(t).__name__))
        b = t.encode("utf-8")
        if b"\0" in b:
            raise ValueError("%s[%d] contains a NUL character" % (what, i))
        out.append(b)
    return (ctypes.c_char_p * len(out))(*out), len(out)


def _encode_one(text, what):
    if not isinstance(text, str):
        raise TypeError("%s must be str, not %s" % (what, type(text).__name__))
    b = text.encode("utf-8")
    if b"\0" in b:
        raise ValueError("%s contains a NUL character" % what)
    return b


def _check_batch(batch_size):
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError("batch_size must be an int >= 1, got %r" % (batch_size,))


def library_path():
    """The path of the C library this module loaded."""
    _load()
    return _lib_path


def set_threads(n):
    """Threads of the model's kernels, process-wide (n >= 1)."""
    lib = _load()
    if lib.slimpipe_set_threads(int(n)) != 0:
        raise _error(lib)


def threads():
    return _load().slimpipe_threads()


def cpu_isa():
    """The instruction set the kernels use on this CPU, e.g. 'avx512_core_vnni'."""
    return _load().slimpipe_cpu_isa().decode()


def package_task(package_dir):
    """The task of a package ('seq_cls', 'token_cls' or 'qa'), read from its package.json."""
    lib = _load()
    buf = ctypes.create_string_buffer(32)
    if lib.slimpipe_package_task(os.fsencode(package_dir), buf, len(buf)) != 0:
        raise _error(lib)
    return buf.value.decode()


class _Handle:
    """What Classifier, Tagger and Reader share: the handle, its free function, close() and the with block."""

    _free_name = None

    def _h(self):
        if not self._handle:
            raise Error("%s: used after close()" % type(self).__name__)
        return self._handle

    def close(self):
        if getattr(self, "_handle", None):
            getattr(self._lib, self._free_name)(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


class Classifier(_Handle):
    """A sequence-classification package: text in, label and score out.

    Classifier(package_dir, verify=True): loads the model (checking the package's sizes and SHA-1s unless
    verify=False) and its tokenizer. Thread-safe (calls take turns on the one model). close() frees it now (also
    done when the object is collected, or at the end of a with block).
    """

    _free_name = "slimpipe_classifier_free"

    def __init__(self, package_dir, verify=True):
        self._lib = _load()
        self._handle = self._lib.slimpipe_classifier_load_ex(os.fsencode(package_dir), 1 if verify else 0)
        if not self._handle:
            raise _error(self._lib)
        n = self._lib.slimpipe_classifier_num_labels(self._handle)
        self.labels = [self._lib.slimpipe_classifier_label(self._handle, i).decode("utf-8") for i in range(n)]
        self.max_seq_length = self._lib.slimpipe_classifier_max_seq_length(self._handle)

    def predict(self, texts, batch_size=32, all_scores=False):
        """One {'label', 'score'} per text, in order (with all_scores: 'scores', every label's probability by
        name, and 'logits', by label id, too). Texts are truncated to the package's max_seq_length."""
        _check_batch(batch_size)
        arr, n = _encode(texts, "texts")
        return self._call(lambda out: self._lib.slimpipe_classifier_predict(self._h(), arr, n, batch_size, out), all_scores)

    def predict_pairs(self, firsts, seconds, batch_size=32, all_scores=False):
        """Sentence pairs (firsts[i], seconds[i]), token type 1 on the second text."""
        _check_batch(batch_size)
        a, n = _encode(firsts, "firsts")
        b, m = _encode(seconds, "seconds")
        if n != m:
            raise ValueError("predict_pairs: %d first texts but %d second texts" % (n, m))
        return self._call(
            lambda out: self._lib.slimpipe_classifier_predict_pairs(self._h(), a, b, n, batch_size, out), all_scores
        )

    def _call(self, run, all_scores):
        out = ctypes.POINTER(_Classifications)()
        if run(ctypes.byref(out)) != 0:
            raise _error(self._lib)
        try:
            res = out.contents
            k = res.num_labels
            preds = []
            for i in range(res.count):
                item = res.items[i]
                p = {"label": item.label.decode("utf-8"), "score": float(item.score)}
                if all_scores:
                    p["label_id"] = int(item.label_id)
                    p["scores"] = {self.labels[j]: float(item.scores[j]) for j in range(k)}
                    p["logits"] = [float(item.logits[j]) for j in range(k)]
                preds.append(p)
            return preds
        finally:
            self._lib.slimpipe_classifications_free(out)


class Tagger(_Handle):
    """A token-classification package: text in, entities out.

    Tagger(package_dir, verify=True, chunk_mode=None): loads the model (checking the package's sizes and SHA-1s
    unless verify=False), its tokenizer and tag names (O, B-X, I-X, ...). chunk_mode is how word tags become
    entities, as the token_cls task's evaluation chunks them: "lenient" (seqeval's default), "strict_iob2" or
    "strict_iobes"; None: the package's (package.json's strict and scheme, what the pipeline's [task] used;
    lenient when absent). Thread-safe (calls take turns on the one model). close() frees it now (also done when the object is collected, or at the end of a with block).
    """

    _free_name = "slimpipe_tagger_free"

    def __init__(self, package_dir, verify=True, chunk_mode=None):
        if chunk_mode not in _CHUNK_MODES:
            raise ValueError("chunk_mode must be None or one of %s, got %r"
                             % (", ".join(m for m in _CHUNK_MODES if m), chunk_mode))
        self._lib = _load()
        self._handle = self._lib.slimpipe_tagger_load_ex(
            os.fsencode(package_dir), 1 if verify else 0, _CHUNK_MODES[chunk_mode]
        )
        if not self._handle:
            raise _error(self._lib)
        n = self._lib.slimpipe_tagger_num_labels(self._handle)
        self.labels = [self._lib.slimpipe_tagger_label(self._handle, i).decode("utf-8") for i in range(n)]
        self.max_seq_length = self._lib.slimpipe_tagger_max_seq_length(self._handle)

    def predict(self, texts, batch_size=32, details=False):
        """One list of entities per text, in order; each entity a dict {'type', 'text', 'start', 'end', 'byte_start',
        'byte_end', 'score'}: the tags' type (PER for B-PER I-PER), the text's characters text[start:end] (start and
        end in characters of the str; byte_start and byte_end in its UTF-8 bytes), and the mean probability of the
        tags of its words. A word is a run of characters between whitespace and takes the tag predicted at its first
        sub-token; a text is cut at max_seq_length tokens, and the words past the cut are not tagged. details=True
        gives one dict {'entities': [...], 'truncated': bool} per text instead, truncated saying that it was cut."""
        _check_batch(batch_size)
        arr, n = _encode(texts, "texts")
        out = ctypes.POINTER(_Taggings)()
        if self._lib.slimpipe_tagger_predict(self._h(), arr, n, batch_size, ctypes.byref(out)) != 0:
            raise _error(self._lib)
        try:
            res = out.contents
            result = []
            for i in range(res.count):
                tagging = res.items[i]
                entities = []
                for j in range(tagging.count):
                    e = tagging.entities[j]
                    entities.append(
                        {
                            "type": e.type.decode("utf-8"),
                            "text": e.text.decode("utf-8"),
                            "start": int(e.start),
                            "end": int(e.end),
                            "byte_start": int(e.byte_start),
                            "byte_end": int(e.byte_end),
                            "score": float(e.score),
                        }
                    )
                result.append({"entities": entities, "truncated": bool(tagging.truncated)} if details else entities)
            return result
        finally:
            self._lib.slimpipe_taggings_free(out)


class Reader(_Handle):
    """An extractive question-answering package: question and context in, the answer's span of the context out.

    Reader(package_dir, verify=True, n_best_size=None, max_answer_length=None): loads the model (checking the
    package's sizes and SHA-1s unless verify=False), its tokenizer, max_seq_length, doc_stride and max_query_length.
    n_best_size (start and end candidates per window) and max_answer_length (tokens) are the qa task's decoding
    settings; None takes the package's (package.json's, what the pipeline's [task] used; 20 and 30 when absent).
    Thread-safe (calls take turns on the one model). close() frees it now (also done when the object is collected, or at the end of a with block).
    """

    _free_name = "slimpipe_reader_free"

    def __init__(self, package_dir, verify=True, n_best_size=None, max_answer_length=None):
        for name, value in (("n_best_size", n_best_size), ("max_answer_length", max_answer_length)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError("%s must be None or an int >= 1, got %r" % (name, value))
        self._lib = _load()
        self._handle = self._lib.slimpipe_reader_load_ex(
            os.fsencode(package_dir), 1 if verify else 0, n_best_size or 0, max_answer_length or 0
        )
        if not self._handle:
            raise _error(self._lib)
        self.max_seq_length = self._lib.slimpipe_reader_max_seq_length(self._handle)
        self.doc_stride = self._lib.slimpipe_reader_doc_stride(self._handle)
        self.max_query_length = self._lib.slimpipe_reader_max_query_length(self._handle)

    def answer(self, question, context):
        """The best answer to question in context: {'text', 'start', 'end', 'byte_start', 'byte_end', 'score',
        'logit_score', 'window'}, text == context[start:end] (start and end in characters of the str; byte_start and
        byte_end in its UTF-8 bytes); score: the start and end probabilities multiplied; logit_score: the start and
        end logits added; window: the doc-stride window it came from. A context without a valid span (an empty one)
        gives text '', offsets 0, score 0.0 and window -1."""
        q = _encode_one(question, "question")
        c = _encode_one(context, "context")
        return self._answer([q], [c], 1)[0]

    def answer_batch(self, inputs, batch_size=32):
        """One answer (as answer() gives it) per input, in order; an input is a (question, context) pair or a dict
        {'question': ..., 'context': ...}. The windows of all inputs run batch_size at a time."""
        _check_batch(batch_size)
        if isinstance(inputs, (str, bytes, dict)):
            raise TypeError(
                "inputs must be a list of (question, context) pairs, not a single %s" % type(inputs).__name__
            )
        qs, cs = [], []
        for i, x in enumerate(inputs):
            if isinstance(x, dict):
                if "question" not in x or "context" not in x:
                    raise TypeError("inputs[%d] must have 'question' and 'context'" % i)
                question, context = x["question"], x["context"]
            elif isinstance(x, (tuple, list)) and len(x) == 2:
                question, context = x
            else:
                raise TypeError(
                    "inputs[%d] must be a (question, context) pair or a dict, not %s" % (i, type(x).__name__)
                )
            qs.append(_encode_one(question, "inputs[%d] question" % i))
            cs.append(_encode_one(context, "inputs[%d] context" % i))
        return self._answer(qs, cs, batch_size)

    def _answer(self, qs, cs, batch_size):
        n = len(qs)
        q_arr = (ctypes.c_char_p * n)(*qs)
        c_arr = (ctypes.c_char_p * n)(*cs)
        out = ctypes.POINTER(_Answers)()
        if self._lib.slimpipe_reader_answer(self._h(), q_arr, c_arr, n, batch_size, ctypes.byref(out)) != 0:
            raise _error(self._lib)
        try:
            res = out.contents
            answers = []
            for i in range(res.count):
                a = res.items[i]
                answers.append(
                    {
                        "text": a.text.decode("utf-8"),
                        "start": int(a.start),
                        "end": int(a.end),
                        "byte_start": int(a.byte_start),
                        "byte_end": int(a.byte_end),
                        "score": float(a.score),
                        "logit_score": float(a.logit_score),
                        "window": int(a.window),
                    }
                )
            return answers
        finally:
            self._lib.slimpipe_answers_free(out)
