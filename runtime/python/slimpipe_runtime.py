"""slimpipe_runtime: run a slimpipe runtime package from Python, with the standard library only (ctypes).

    from slimpipe_runtime import Classifier
    clf = Classifier("runs/quickstart/rank/runtime")
    clf.predict(["a great movie"])   # [{'label': 'positive', 'score': 0.93}]

The C library libslimpipe_runtime_c.so (slimpipe_runtime.h) does the work. It is looked for, in order, at the path
in the environment variable SLIMPIPE_RUNTIME_LIB (the file, or the folder holding it), beside this file, in
../lib and ../../lib from this file (an installed prefix, a build tree), then by the system's loader (ldconfig,
LD_LIBRARY_PATH). Errors are raised as slimpipe_runtime.Error with the library's one-line message.
"""

import ctypes
import os

__all__ = ["Classifier", "Error", "set_threads", "threads", "cpu_isa", "package_task", "library_path"]

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


class Classifier:
    """A sequence-classification package: text in, label and score out.

    Classifier(package_dir, verify=True): loads the model (checking the package's sizes and SHA-1s unless
    verify=False) and its tokenizer. Thread-safe (calls take turns on the one model). close() frees it now (also
    done when the object is collected, or at the end of a with block).
    """

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

    def _h(self):
        if not self._handle:
            raise Error("Classifier: used after close()")
        return self._handle

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

    def close(self):
        if getattr(self, "_handle", None):
            self._lib.slimpipe_classifier_free(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()
