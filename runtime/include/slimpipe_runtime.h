/* slimpipe_runtime.h: the C API of slimpipe's inference runtime (libslimpipe_runtime_c.so; docs/deploy.md).
 *
 * Runs a runtime package (docs/runtime.md, "Package") from text, without LibTorch and without C++ in the caller:
 * slimpipe_classifier (seq_cls packages), slimpipe_tagger (token_cls) and slimpipe_reader (qa).
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
  const char* label;   /* the best label's name */
  int32_t label_id;    /* its id */
  float score;         /* its softmax probability */
  const float* scores; /* num_labels probabilities, by label id */
  const float* logits; /* num_labels raw model outputs, by label id */
} slimpipe_classification;

typedef struct slimpipe_classifications {
  size_t count; /* one item per input text, in order */
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

/* ---- token classification: text in, entities out --------------------------------------------------------------- */

typedef struct slimpipe_tagger slimpipe_tagger;

/* How word tags become entities (the token_cls task's strict and scheme settings; seqeval's rules). */
#define SLIMPIPE_CHUNK_DEFAULT 0      /* the package's: package.json's strict and scheme; lenient when absent */
#define SLIMPIPE_CHUNK_LENIENT 1      /* an I-X after O starts an entity (strict = false) */
#define SLIMPIPE_CHUNK_STRICT_IOB2 2  /* strict = true, scheme bio */
#define SLIMPIPE_CHUNK_STRICT_IOBES 3 /* strict = true, scheme bioes */

typedef struct slimpipe_entity {
  const char* type;            /* the tags' type: "PER" for B-PER I-PER */
  const char* text;            /* the input's text of the entity, unchanged */
  size_t start, end;           /* [start, end) in code points of the input (what a Python str indexes) */
  size_t byte_start, byte_end; /* the same span in bytes of the UTF-8 input */
  float score;                 /* mean over its words of the probability of the tag predicted for the word */
} slimpipe_entity;

typedef struct slimpipe_tagging {
  size_t count; /* entities of one text, in text order */
  slimpipe_entity* entities;
  int truncated; /* 1: the text had more tokens than max_seq_length; its last words got no tag */
} slimpipe_tagging;

typedef struct slimpipe_taggings {
  size_t count; /* one item per input text, in order */
  slimpipe_tagging* items;
} slimpipe_taggings;

/* Loads a token_cls package (package.json's sizes and SHA-1s checked) and its tokenizer; the tag names must be BIO
 * tags (O, B-X, I-X; E-X, S-X). Chunks with SLIMPIPE_CHUNK_DEFAULT. NULL on error. */
SLIMPIPE_API slimpipe_tagger* slimpipe_tagger_load(const char* package_dir);
/* The same; verify_package = 0 skips the sizes and SHA-1s of the package's files; chunk_mode is one of
 * SLIMPIPE_CHUNK_* (a strict mode also refuses tag names outside its scheme). */
SLIMPIPE_API slimpipe_tagger* slimpipe_tagger_load_ex(const char* package_dir, int verify_package, int chunk_mode);
SLIMPIPE_API void slimpipe_tagger_free(slimpipe_tagger* tagger);

SLIMPIPE_API size_t slimpipe_tagger_num_labels(const slimpipe_tagger* tagger);
/* The name of tag id (owned by the handle), or NULL for an id out of range. */
SLIMPIPE_API const char* slimpipe_tagger_label(const slimpipe_tagger* tagger, size_t id);
/* The package's max_seq_length: the tokens of a longer text are cut there (its last words get no tag). */
SLIMPIPE_API int64_t slimpipe_tagger_max_seq_length(const slimpipe_tagger* tagger);

/* Tags count texts, batch_size at a time (0: 32), each batch padded to its longest text. A word is a run of
 * characters between whitespace; it takes the tag predicted at its first sub-token; entities are the chunks of the
 * words' tags. On success *out is a new result (count items) for slimpipe_taggings_free. count = 0 gives an empty
 * result. */
SLIMPIPE_API int slimpipe_tagger_predict(slimpipe_tagger* tagger, const char* const* texts, size_t count,
                                         size_t batch_size, slimpipe_taggings** out);
SLIMPIPE_API void slimpipe_taggings_free(slimpipe_taggings* result);

/* ---- extractive question answering: question and context in, answer span out ---------------------------------- */

typedef struct slimpipe_reader slimpipe_reader;

typedef struct slimpipe_answer {
  const char* text;            /* the context's text of the answer, unchanged; "" when none was found */
  size_t start, end;           /* [start, end) in code points of the context */
  size_t byte_start, byte_end; /* in bytes of the context */
  float score;                 /* softmax of the start logits at the start token x softmax of the end logits at the
                                  end token, over the context tokens of the answer's window; 0 when none */
  double logit_score;          /* start logit + end logit, what the span search maximizes */
  int64_t window;              /* which window of the context (0, 1, ...) held the answer; -1: none found */
} slimpipe_answer;

typedef struct slimpipe_answers {
  size_t count; /* one item per (question, context), in order */
  slimpipe_answer* items;
} slimpipe_answers;

/* Loads a qa package (package.json's sizes and SHA-1s checked), its tokenizer, max_seq_length, doc_stride and
 * max_query_length. NULL on error. */
SLIMPIPE_API slimpipe_reader* slimpipe_reader_load(const char* package_dir);
/* The same; verify_package = 0 skips the sizes and SHA-1s of the package's files; n_best_size (start and end
 * candidates per window) and max_answer_length (tokens) are the qa task's decoding settings, 0 taking the package's
 * (package.json's, what the pipeline's [task] used; 20 and 30 when absent). */
SLIMPIPE_API slimpipe_reader* slimpipe_reader_load_ex(const char* package_dir, int verify_package, size_t n_best_size,
                                                      size_t max_answer_length);
SLIMPIPE_API void slimpipe_reader_free(slimpipe_reader* reader);

SLIMPIPE_API int64_t slimpipe_reader_max_seq_length(const slimpipe_reader* reader);
SLIMPIPE_API int64_t slimpipe_reader_doc_stride(const slimpipe_reader* reader);
SLIMPIPE_API int64_t slimpipe_reader_max_query_length(const slimpipe_reader* reader);

/* Answers count questions, questions[i] about contexts[i]: the question is cut to max_query_length tokens, the
 * context read in windows of max_seq_length tokens sharing doc_stride tokens, and the answer is the best span over
 * all windows. The windows of all inputs run batch_size at a time (0: 32). On success *out is a new result (count
 * items) for slimpipe_answers_free. count = 0 gives an empty result. */
SLIMPIPE_API int slimpipe_reader_answer(slimpipe_reader* reader, const char* const* questions,
                                        const char* const* contexts, size_t count, size_t batch_size,
                                        slimpipe_answers** out);
SLIMPIPE_API void slimpipe_answers_free(slimpipe_answers* result);

#ifdef __cplusplus
}
#endif

#endif /* SLIMPIPE_RUNTIME_H */
