/* slimpipe_runtime.h: the C API of slimpipe's inference runtime (libslimpipe_runtime_c.so; docs/deploy.md).
 *
 * Runs a runtime package (docs/runtime.md, "Package") from text, without LibTorch and without C++ in the caller.
 *
 *   slimpipe_classifier* clf = slimpipe_classifier_load("runs/quickstart/rank/runtime");
 *   if (!clf) { fprintf(stderr, "%s\n", slimpipe_last_error()); return 1; }
 *   const char* texts[] = {"a great movie", "the plot was dull"};
 *   slimpipe_classifications* out = NULL;
 *   if (slimpipe_classifier_predict(clf, texts, 2, 0, &out) != 0) { fprintf(stderr, "%s\n", slimpipe_last_error()); }
 *   else for (size_t i = 0; i < out->count; ++i) printf("%s %.3f\n", out->items[i].label, out->items[i].score);
 *   slimpipe_classifications_free(out);
 *   slimpipe_classifier_free(clf);
 *
 * Conventions:
 * - Handles are opaque; each is freed by its own free function (NULL is accepted and ignored).
 * - A function that can fail returns NULL (loaders) or a non-zero status (SLIMPIPE_ERROR); the reason, one line, is
 *   then slimpipe_last_error(), kept per thread until this thread's next failing call. No C++ exception leaves the
 *   library.
 * - Results are owned by the caller: one allocation each, independent of the handle that produced it (free the
 *   handle first if you like), released with the matching *_free function.
 * - Texts are NUL-terminated UTF-8.
 * - Handles are thread-safe: calls from several threads take turns on the one model of a handle; load one handle
 *   per thread to run in parallel (and share the cores with slimpipe_set_threads).
 */
#ifndef SLIMPIPE_RUNTIME_H
#define SLIMPIPE_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SLIMPIPE_API __attribute__((visibility("default")))
#else
#define SLIMPIPE_API
#endif

#define SLIMPIPE_OK 0
#define SLIMPIPE_ERROR (-1)

/* The version of this library ("0.1.0") and the highest package format version it reads. */
SLIMPIPE_API const char* slimpipe_version(void);
SLIMPIPE_API int slimpipe_package_format_version(void);

/* The reason of this thread's last failure, one line; "" when no call of this thread has failed. Valid until the
 * thread's next call into the library. */
SLIMPIPE_API const char* slimpipe_last_error(void);

/* Threads of the model's kernels, process-wide (n >= 1). The instruction set the kernels use on this CPU, e.g.
 * "avx512_core_vnni" (static storage). */
SLIMPIPE_API int slimpipe_set_threads(int n);
SLIMPIPE_API int slimpipe_threads(void);
SLIMPIPE_API const char* slimpipe_cpu_isa(void);

/* Reads package_dir/package.json: its task ("seq_cls", "token_cls" or "qa") into buf (NUL-terminated, truncated to
 * size), without loading the model. For a caller that picks the handle by task. */
SLIMPIPE_API int slimpipe_package_task(const char* package_dir, char* buf, size_t size);

/* ---- sequence classification: text in, label and scores out ---------------------------------------------------- */

typedef struct slimpipe_classifier slimpipe_classifier;

typedef struct slimpipe_classification {
  const char* label;    /* the best label's name */
  int32_t label_id;     /* its id */
  float score;          /* its softmax probability */
  const float* scores;  /* num_labels probabilities, by label id */
  const float* logits;  /* num_labels raw model outputs, by label id */
} slimpipe_classification;

typedef struct slimpipe_classifications {
  size_t count;                    /* one item per input text, in order */
  size_t num_labels;
  slimpipe_classification* items;
} slimpipe_classifications;

/* Loads a seq_cls package (package.json's sizes and SHA-1s checked) and its tokenizer. NULL on error. */
SLIMPIPE_API slimpipe_classifier* slimpipe_classifier_load(const char* package_dir);
/* The same; verify_package = 0 skips the sizes and SHA-1s of the package's files (the fields are still checked). */
SLIMPIPE_API slimpipe_classifier* slimpipe_classifier_load_ex(const char* package_dir, int verify_package);
SLIMPIPE_API void slimpipe_classifier_free(slimpipe_classifier* clf);

SLIMPIPE_API size_t slimpipe_classifier_num_labels(const slimpipe_classifier* clf);
/* The name of label id (owned by the handle), or NULL for an id out of range. */
SLIMPIPE_API const char* slimpipe_classifier_label(const slimpipe_classifier* clf, size_t id);
/* The package's max_seq_length: longer inputs are truncated to it (longest first for pairs). */
SLIMPIPE_API int64_t slimpipe_classifier_max_seq_length(const slimpipe_classifier* clf);

/* Classifies count texts, batch_size at a time (0: 32), each batch padded to its longest text. On success *out is a
 * new result (count items) for slimpipe_classifications_free. count = 0 gives an empty result. */
SLIMPIPE_API int slimpipe_classifier_predict(slimpipe_classifier* clf, const char* const* texts, size_t count,
                                             size_t batch_size, slimpipe_classifications** out);
/* Sentence pairs (firsts[i], seconds[i]); token type 1 on the second text. */
SLIMPIPE_API int slimpipe_classifier_predict_pairs(slimpipe_classifier* clf, const char* const* firsts,
                                                   const char* const* seconds, size_t count, size_t batch_size,
                                                   slimpipe_classifications** out);
SLIMPIPE_API void slimpipe_classifications_free(slimpipe_classifications* result);

#ifdef __cplusplus
}
#endif

#endif /* SLIMPIPE_RUNTIME_H */
