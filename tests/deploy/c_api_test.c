/* The C API (slimpipe_runtime.h) from C: compiled as C11, linked against libslimpipe_runtime_c.so only.
 * Usage: c_api_test PACKAGES_DIR
 * PACKAGES_DIR holds the packages `make_test_package --all` writes: seq_cls/, token_cls/, qa/, damaged/ (a token_cls
 * package whose weights.bin no longer matches its SHA-1), token_cls_strict/ and qa_short/ (package.json records
 * strict IOB2 chunking; n_best_size 5 and max_answer_length 1). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slimpipe_runtime.h"

static int failures = 0;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                            \
    }                                                                        \
  } while (0)

static int contains(const char* haystack, const char* needle) { return haystack && strstr(haystack, needle) != NULL; }

static void* fail_in_thread(void* arg) {
  (void)arg;
  slimpipe_classifier* clf = slimpipe_classifier_load("/nonexistent/slimpipe-package");
  return (void*)(intptr_t)(clf == NULL && contains(slimpipe_last_error(), "/nonexistent/slimpipe-package/package.json") ? 1 : 0);
}

static char seq_cls_pkg[4096], token_cls_pkg[4096], qa_pkg[4096], damaged_pkg[4096], strict_pkg[4096], short_pkg[4096];

/* Code points of the UTF-8 bytes s[0, n) (valid UTF-8: every byte that does not continue a sequence). */
static size_t code_points(const char* s, size_t n) {
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) count += ((unsigned char)s[i] & 0xC0) != 0x80;
  return count;
}

static int has_whitespace(const char* s) { return strpbrk(s, " \t\n") != NULL; }

static void test_classifier(void) {
  const char* pkg = seq_cls_pkg;
  CHECK(strcmp(slimpipe_version(), "0.1.0") == 0);
  CHECK(slimpipe_package_format_version() == 1);
  CHECK(strcmp(slimpipe_last_error(), "") == 0);
  CHECK(strlen(slimpipe_cpu_isa()) > 0);
  CHECK(slimpipe_set_threads(1) == SLIMPIPE_OK && slimpipe_threads() == 1);
  CHECK(slimpipe_set_threads(0) == SLIMPIPE_ERROR && contains(slimpipe_last_error(), "must be >= 1"));

  char task[16];
  CHECK(slimpipe_package_task(pkg, task, sizeof task) == SLIMPIPE_OK && strcmp(task, "seq_cls") == 0);
  CHECK(slimpipe_package_task(qa_pkg, task, 3) == SLIMPIPE_OK && strcmp(task, "qa") == 0);
  CHECK(slimpipe_package_task(token_cls_pkg, task, sizeof task) == SLIMPIPE_OK && strcmp(task, "token_cls") == 0);

  slimpipe_classifier* clf = slimpipe_classifier_load(pkg);
  if (!clf) {
    fprintf(stderr, "load failed: %s\n", slimpipe_last_error());
    ++failures;
    return;
  }
  CHECK(slimpipe_classifier_num_labels(clf) == 3);
  CHECK(strcmp(slimpipe_classifier_label(clf, 2), "positive") == 0);
  CHECK(slimpipe_classifier_label(clf, 3) == NULL);
  CHECK(slimpipe_classifier_max_seq_length(clf) == 32);

  const char* texts[] = {"a great movie", "the plot was dull !", "not a very good film , bad story"};
  slimpipe_classifications* out = NULL;
  CHECK(slimpipe_classifier_predict(clf, texts, 3, 0, &out) == SLIMPIPE_OK);
  if (out) {
    CHECK(out->count == 3 && out->num_labels == 3);
    for (size_t i = 0; i < out->count; ++i) {
      const slimpipe_classification* c = &out->items[i];
      float sum = 0;
      int best = 0;
      for (size_t j = 0; j < out->num_labels; ++j) {
        sum += c->scores[j];
        if (c->logits[j] > c->logits[best]) best = (int)j;
      }
      CHECK(fabsf(sum - 1.0f) < 1e-5f);
      CHECK(c->label_id == best && c->score == c->scores[best]);
      CHECK(strcmp(c->label, slimpipe_classifier_label(clf, (size_t)best)) == 0);
    }
  }
  /* One text at a time (no padding): the same predictions. The result outlives its handle's other calls. */
  slimpipe_classifications* one = NULL;
  CHECK(slimpipe_classifier_predict(clf, texts, 3, 1, &one) == SLIMPIPE_OK);
  if (out && one)
    for (size_t i = 0; i < 3; ++i)
      for (size_t j = 0; j < 3; ++j) CHECK(fabsf(out->items[i].logits[j] - one->items[i].logits[j]) < 1e-4f);
  slimpipe_classifications_free(one);

  const char* seconds[] = {"bad plot", "good", "the movie"};
  slimpipe_classifications* pairs = NULL;
  CHECK(slimpipe_classifier_predict_pairs(clf, texts, seconds, 3, 2, &pairs) == SLIMPIPE_OK);
  CHECK(pairs && pairs->count == 3);
  slimpipe_classifications_free(pairs);

  slimpipe_classifications* empty = NULL;
  CHECK(slimpipe_classifier_predict(clf, NULL, 0, 0, &empty) == SLIMPIPE_OK && empty && empty->count == 0);
  slimpipe_classifications_free(empty);

  /* Errors: a status, one line, nothing thrown; out stays NULL. */
  const char* with_null[] = {"fine", NULL};
  slimpipe_classifications* bad = (slimpipe_classifications*)1;
  CHECK(slimpipe_classifier_predict(clf, with_null, 2, 0, &bad) == SLIMPIPE_ERROR && bad == NULL);
  CHECK(contains(slimpipe_last_error(), "texts[1] is NULL"));
  CHECK(slimpipe_classifier_predict(NULL, texts, 1, 0, &bad) == SLIMPIPE_ERROR);
  CHECK(contains(slimpipe_last_error(), "must not be NULL"));
  CHECK(slimpipe_classifier_load(qa_pkg) == NULL);
  CHECK(contains(slimpipe_last_error(), "task qa, a Classifier runs seq_cls packages"));
  CHECK(strchr(slimpipe_last_error(), '\n') == NULL);
  CHECK(slimpipe_classifier_load(NULL) == NULL && contains(slimpipe_last_error(), "package_dir is NULL"));

  /* The last error is per thread: another thread's failure leaves this thread's message as it was. */
  const char* before = "task qa";
  CHECK(slimpipe_classifier_load(qa_pkg) == NULL);
  pthread_t thread;
  void* thread_ok = NULL;
  CHECK(pthread_create(&thread, NULL, fail_in_thread, NULL) == 0 && pthread_join(thread, &thread_ok) == 0);
  CHECK(thread_ok == (void*)1);
  CHECK(contains(slimpipe_last_error(), before));

  slimpipe_classifications_free(out);
  slimpipe_classifier_free(clf);
  slimpipe_classifier_free(NULL);
  slimpipe_classifications_free(NULL);
}

/* Every entity's text is its input's bytes [byte_start, byte_end), its code-point offsets count the same span, and
 * the entities of a text come in order without overlap. */
static void check_tagging(const char* input, const slimpipe_tagging* t) {
  size_t previous_end = 0;
  for (size_t j = 0; j < t->count; ++j) {
    const slimpipe_entity* e = &t->entities[j];
    CHECK(e->byte_start < e->byte_end && e->byte_end <= strlen(input));
    CHECK(e->byte_start >= previous_end);
    previous_end = e->byte_end;
    CHECK(strlen(e->text) == e->byte_end - e->byte_start);
    CHECK(strncmp(e->text, input + e->byte_start, e->byte_end - e->byte_start) == 0);
    CHECK(e->start == code_points(input, e->byte_start));
    CHECK(e->end == code_points(input, e->byte_end));
    CHECK(strcmp(e->type, "MISC") == 0);
    CHECK(e->score > 0.0f && e->score <= 1.0f);
  }
}

static int same_taggings(const slimpipe_taggings* a, const slimpipe_taggings* b) {
  if (a->count != b->count) return 0;
  for (size_t i = 0; i < a->count; ++i) {
    const slimpipe_tagging* x = &a->items[i];
    const slimpipe_tagging* y = &b->items[i];
    if (x->count != y->count || x->truncated != y->truncated) return 0;
    for (size_t j = 0; j < x->count; ++j) {
      const slimpipe_entity* e = &x->entities[j];
      const slimpipe_entity* f = &y->entities[j];
      if (strcmp(e->type, f->type) != 0 || strcmp(e->text, f->text) != 0 || e->start != f->start ||
          e->end != f->end || e->byte_start != f->byte_start || e->byte_end != f->byte_end ||
          fabsf(e->score - f->score) > 1e-5f)
        return 0;
    }
  }
  return 1;
}

#define NUM_TAG_TEXTS 5
static const char* tag_texts[NUM_TAG_TEXTS] = {
    "a great movie was not bad",
    "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 the plot , good film !",
    "",
    "the  film\tis   very good . the story was dull",
    "a great movie , the plot was not bad , a good film , the story was dull , not very good ! the movie was bad , "
    "not a great story ."};

struct tagger_job {
  slimpipe_tagger* tagger;
  const slimpipe_taggings* expected;
  int ok;
};

static void* tag_in_thread(void* arg) {
  struct tagger_job* job = (struct tagger_job*)arg;
  job->ok = 1;
  for (int round = 0; round < 5; ++round) {
    slimpipe_taggings* out = NULL;
    if (slimpipe_tagger_predict(job->tagger, tag_texts, NUM_TAG_TEXTS, 2, &out) != SLIMPIPE_OK ||
        !same_taggings(out, job->expected))
      job->ok = 0;
    slimpipe_taggings_free(out);
  }
  return NULL;
}

static void test_tagger(void) {
  slimpipe_tagger* tagger = slimpipe_tagger_load(token_cls_pkg);
  if (!tagger) {
    fprintf(stderr, "tagger load failed: %s\n", slimpipe_last_error());
    ++failures;
    return;
  }
  CHECK(slimpipe_tagger_num_labels(tagger) == 3);
  CHECK(strcmp(slimpipe_tagger_label(tagger, 0), "O") == 0);
  CHECK(strcmp(slimpipe_tagger_label(tagger, 2), "I-MISC") == 0);
  CHECK(slimpipe_tagger_label(tagger, 3) == NULL);
  CHECK(slimpipe_tagger_max_seq_length(tagger) == 32);

  slimpipe_taggings* out = NULL;
  CHECK(slimpipe_tagger_predict(tagger, tag_texts, NUM_TAG_TEXTS, 0, &out) == SLIMPIPE_OK);
  size_t entities = 0;
  if (out) {
    CHECK(out->count == NUM_TAG_TEXTS);
    for (size_t i = 0; i < out->count; ++i) {
      check_tagging(tag_texts[i], &out->items[i]);
      entities += out->items[i].count;
    }
    CHECK(out->items[2].count == 0);                                    /* the empty text */
    CHECK(out->items[0].truncated == 0 && out->items[4].truncated == 1); /* over 32 tokens */
  }
  CHECK(entities > 0);
  /* One text at a time (no padding): the same entities. */
  slimpipe_taggings* one = NULL;
  CHECK(slimpipe_tagger_predict(tagger, tag_texts, NUM_TAG_TEXTS, 1, &one) == SLIMPIPE_OK);
  CHECK(out && one && same_taggings(out, one));
  slimpipe_taggings_free(one);

  /* Two threads on one handle take turns: the same entities. */
  if (out) {
    struct tagger_job jobs[2] = {{tagger, out, 0}, {tagger, out, 0}};
    pthread_t threads[2];
    for (int k = 0; k < 2; ++k) CHECK(pthread_create(&threads[k], NULL, tag_in_thread, &jobs[k]) == 0);
    for (int k = 0; k < 2; ++k) CHECK(pthread_join(threads[k], NULL) == 0 && jobs[k].ok == 1);
  }

  slimpipe_taggings* empty = NULL;
  CHECK(slimpipe_tagger_predict(tagger, NULL, 0, 0, &empty) == SLIMPIPE_OK && empty && empty->count == 0);
  slimpipe_taggings_free(empty);

  /* Errors: a status, one line, out NULL. */
  const char* with_null[] = {"a movie", NULL};
  slimpipe_taggings* bad = (slimpipe_taggings*)1;
  CHECK(slimpipe_tagger_predict(tagger, with_null, 2, 0, &bad) == SLIMPIPE_ERROR && bad == NULL);
  CHECK(contains(slimpipe_last_error(), "texts[1] is NULL"));
  CHECK(slimpipe_tagger_predict(NULL, tag_texts, 1, 0, &bad) == SLIMPIPE_ERROR);
  CHECK(contains(slimpipe_last_error(), "must not be NULL"));
  CHECK(slimpipe_tagger_predict(tagger, tag_texts, 1, 0, NULL) == SLIMPIPE_ERROR);
  CHECK(slimpipe_tagger_load(seq_cls_pkg) == NULL);
  CHECK(contains(slimpipe_last_error(), "task seq_cls, a Tagger runs token_cls packages"));
  CHECK(contains(slimpipe_last_error(), "/seq_cls/package.json"));
  CHECK(slimpipe_tagger_load(qa_pkg) == NULL && contains(slimpipe_last_error(), "task qa, a Tagger runs token_cls"));
  CHECK(slimpipe_classifier_load(token_cls_pkg) == NULL);
  CHECK(contains(slimpipe_last_error(), "task token_cls, a Classifier runs seq_cls packages"));
  CHECK(slimpipe_tagger_load(NULL) == NULL && contains(slimpipe_last_error(), "package_dir is NULL"));
  CHECK(slimpipe_tagger_load("/nonexistent/slimpipe-package") == NULL);
  CHECK(contains(slimpipe_last_error(), "/nonexistent/slimpipe-package/package.json: not found"));
  CHECK(slimpipe_tagger_load_ex(token_cls_pkg, 1, 7) == NULL && contains(slimpipe_last_error(), "chunk_mode 7"));
  CHECK(slimpipe_tagger_load_ex(token_cls_pkg, 1, -1) == NULL && contains(slimpipe_last_error(), "chunk_mode -1"));

  /* A damaged weights.bin: refused with its SHA-1, one line; without verification it loads. */
  CHECK(slimpipe_tagger_load(damaged_pkg) == NULL);
  CHECK(contains(slimpipe_last_error(), "/damaged/weights.bin: SHA-1 "));
  CHECK(contains(slimpipe_last_error(), "the file is damaged or was changed after export"));
  CHECK(strchr(slimpipe_last_error(), '\n') == NULL);
  slimpipe_tagger* unverified = slimpipe_tagger_load_ex(damaged_pkg, 0, SLIMPIPE_CHUNK_LENIENT);
  CHECK(unverified != NULL);
  slimpipe_taggings* from_damaged = NULL;
  CHECK(unverified && slimpipe_tagger_predict(unverified, tag_texts, 2, 0, &from_damaged) == SLIMPIPE_OK);
  CHECK(from_damaged && from_damaged->count == 2);
  slimpipe_taggings_free(from_damaged);
  slimpipe_tagger_free(unverified);

  /* A package that records no chunking chunks leniently by default. */
  slimpipe_tagger* lenient = slimpipe_tagger_load_ex(token_cls_pkg, 1, SLIMPIPE_CHUNK_LENIENT);
  slimpipe_taggings* lenient_out = NULL;
  CHECK(lenient && slimpipe_tagger_predict(lenient, tag_texts, NUM_TAG_TEXTS, 0, &lenient_out) == SLIMPIPE_OK);
  CHECK(out && lenient_out && same_taggings(out, lenient_out));
  slimpipe_taggings_free(lenient_out);
  slimpipe_tagger_free(lenient);

  /* Strict IOB2 chunking (O, B-MISC, I-MISC are IOB2 tags): entities of the same form. A package that records
   * strict chunking chunks so by default; an explicit mode overrides it. */
  slimpipe_tagger* strict = slimpipe_tagger_load_ex(token_cls_pkg, 1, SLIMPIPE_CHUNK_STRICT_IOB2);
  slimpipe_tagger* recorded = slimpipe_tagger_load(strict_pkg);
  slimpipe_tagger* overridden = slimpipe_tagger_load_ex(strict_pkg, 1, SLIMPIPE_CHUNK_LENIENT);
  CHECK(strict && recorded && overridden);
  slimpipe_taggings *strict_out = NULL, *recorded_out = NULL, *overridden_out = NULL;
  CHECK(strict && slimpipe_tagger_predict(strict, tag_texts, NUM_TAG_TEXTS, 0, &strict_out) == SLIMPIPE_OK);
  CHECK(recorded && slimpipe_tagger_predict(recorded, tag_texts, NUM_TAG_TEXTS, 0, &recorded_out) == SLIMPIPE_OK);
  CHECK(overridden &&
        slimpipe_tagger_predict(overridden, tag_texts, NUM_TAG_TEXTS, 0, &overridden_out) == SLIMPIPE_OK);
  if (strict_out)
    for (size_t i = 0; i < strict_out->count; ++i) check_tagging(tag_texts[i], &strict_out->items[i]);
  CHECK(out && strict_out && !same_taggings(out, strict_out)); /* these texts have an I-MISC after O */
  CHECK(strict_out && recorded_out && same_taggings(strict_out, recorded_out));
  CHECK(out && overridden_out && same_taggings(out, overridden_out));
  slimpipe_taggings_free(strict_out);
  slimpipe_taggings_free(recorded_out);
  slimpipe_taggings_free(overridden_out);
  slimpipe_tagger_free(strict);
  slimpipe_tagger_free(recorded);
  slimpipe_tagger_free(overridden);

  /* The result is independent of its handle. */
  slimpipe_tagger_free(tagger);
  if (out)
    for (size_t i = 0; i < out->count; ++i) check_tagging(tag_texts[i], &out->items[i]);
  slimpipe_taggings_free(out);
  slimpipe_tagger_free(NULL);
  slimpipe_taggings_free(NULL);
}

static void check_answer(const char* context, const slimpipe_answer* a) {
  if (a->window < 0) {
    CHECK(strcmp(a->text, "") == 0 && a->score == 0.0f && a->start == 0 && a->end == 0);
    return;
  }
  CHECK(a->byte_start < a->byte_end && a->byte_end <= strlen(context));
  CHECK(strlen(a->text) == a->byte_end - a->byte_start);
  CHECK(strncmp(a->text, context + a->byte_start, a->byte_end - a->byte_start) == 0);
  CHECK(a->start == code_points(context, a->byte_start));
  CHECK(a->end == code_points(context, a->byte_end));
  CHECK(a->score > 0.0f && a->score <= 1.0f);
}

#define NUM_QA 4
static const char* questions[NUM_QA] = {"what was the movie ?", "was the plot good ?", "what ?",
                                        "a very very very very very very very long question about the film ?"};
static const char* contexts[NUM_QA] = {
    "the movie was a great film , not a bad story .",
    /* several windows: max_seq_length 32, doc_stride 8 */
    "the plot was dull . the story was not very good , the film was bad . a great movie ? not the plot ! the "
    "caf\xc3\xa9 film was good , the story was great , a movie was dull , the plot was very bad .",
    "",
    "the film was good"};

static void test_reader(void) {
  slimpipe_reader* reader = slimpipe_reader_load(qa_pkg);
  if (!reader) {
    fprintf(stderr, "reader load failed: %s\n", slimpipe_last_error());
    ++failures;
    return;
  }
  CHECK(slimpipe_reader_max_seq_length(reader) == 32);
  CHECK(slimpipe_reader_doc_stride(reader) == 8);
  CHECK(slimpipe_reader_max_query_length(reader) == 6);

  slimpipe_answers* out = NULL;
  CHECK(slimpipe_reader_answer(reader, questions, contexts, NUM_QA, 0, &out) == SLIMPIPE_OK);
  if (out) {
    CHECK(out->count == NUM_QA);
    for (size_t i = 0; i < out->count; ++i) check_answer(contexts[i], &out->items[i]);
    CHECK(out->items[0].window == 0 && out->items[3].window == 0);
    CHECK(out->items[1].window >= 0);
    CHECK(out->items[2].window == -1); /* an empty context has no span */
  }
  /* One input at a time, and batches of one window: the same answers. */
  for (size_t i = 0; out && i < NUM_QA; ++i) {
    slimpipe_answers* single = NULL;
    CHECK(slimpipe_reader_answer(reader, &questions[i], &contexts[i], 1, 1, &single) == SLIMPIPE_OK);
    if (single) {
      CHECK(single->count == 1 && strcmp(single->items[0].text, out->items[i].text) == 0);
      CHECK(single->items[0].start == out->items[i].start && single->items[0].end == out->items[i].end);
      CHECK(single->items[0].window == out->items[i].window);
      CHECK(fabsf(single->items[0].score - out->items[i].score) < 1e-5f);
      CHECK(fabs(single->items[0].logit_score - out->items[i].logit_score) < 1e-4);
    }
    slimpipe_answers_free(single);
  }

  /* max_answer_length 1: one-token answers, so no whitespace inside; given as options, or recorded in the package
   * (qa_short: n_best_size 5, max_answer_length 1), where options override it. */
  slimpipe_reader* short_answers = slimpipe_reader_load_ex(qa_pkg, 0, 5, 1);
  slimpipe_reader* recorded = slimpipe_reader_load(short_pkg);
  slimpipe_reader* overridden = slimpipe_reader_load_ex(short_pkg, 1, 20, 30);
  CHECK(short_answers && recorded && overridden);
  slimpipe_answers *shorter = NULL, *recorded_out = NULL, *overridden_out = NULL;
  CHECK(short_answers &&
        slimpipe_reader_answer(short_answers, questions, contexts, NUM_QA, 3, &shorter) == SLIMPIPE_OK);
  CHECK(recorded && slimpipe_reader_answer(recorded, questions, contexts, NUM_QA, 0, &recorded_out) == SLIMPIPE_OK);
  CHECK(overridden &&
        slimpipe_reader_answer(overridden, questions, contexts, NUM_QA, 0, &overridden_out) == SLIMPIPE_OK);
  if (shorter)
    for (size_t i = 0; i < shorter->count; ++i) {
      check_answer(contexts[i], &shorter->items[i]);
      CHECK(!has_whitespace(shorter->items[i].text));
    }
  CHECK(out && has_whitespace(out->items[1].text)); /* the defaults (30 tokens) allow longer answers here */
  for (size_t i = 0; shorter && recorded_out && i < NUM_QA; ++i)
    CHECK(strcmp(shorter->items[i].text, recorded_out->items[i].text) == 0 &&
          shorter->items[i].start == recorded_out->items[i].start);
  for (size_t i = 0; out && overridden_out && i < NUM_QA; ++i)
    CHECK(strcmp(out->items[i].text, overridden_out->items[i].text) == 0 &&
          out->items[i].start == overridden_out->items[i].start);
  slimpipe_answers_free(shorter);
  slimpipe_answers_free(recorded_out);
  slimpipe_answers_free(overridden_out);
  slimpipe_reader_free(short_answers);
  slimpipe_reader_free(recorded);
  slimpipe_reader_free(overridden);

  slimpipe_answers* empty = NULL;
  CHECK(slimpipe_reader_answer(reader, NULL, NULL, 0, 0, &empty) == SLIMPIPE_OK && empty && empty->count == 0);
  slimpipe_answers_free(empty);

  /* Errors. */
  const char* with_null[] = {"the film", NULL};
  slimpipe_answers* bad = (slimpipe_answers*)1;
  CHECK(slimpipe_reader_answer(reader, questions, with_null, 2, 0, &bad) == SLIMPIPE_ERROR && bad == NULL);
  CHECK(contains(slimpipe_last_error(), "contexts[1] is NULL"));
  CHECK(slimpipe_reader_answer(reader, with_null, contexts, 2, 0, &bad) == SLIMPIPE_ERROR);
  CHECK(contains(slimpipe_last_error(), "questions[1] is NULL"));
  CHECK(slimpipe_reader_answer(reader, questions, NULL, 1, 0, &bad) == SLIMPIPE_ERROR);
  CHECK(contains(slimpipe_last_error(), "must not be NULL"));
  CHECK(slimpipe_reader_answer(NULL, questions, contexts, 1, 0, &bad) == SLIMPIPE_ERROR);
  CHECK(slimpipe_reader_load(token_cls_pkg) == NULL);
  CHECK(contains(slimpipe_last_error(), "/token_cls/package.json: task token_cls, a Reader runs qa packages"));
  CHECK(slimpipe_reader_load(seq_cls_pkg) == NULL && contains(slimpipe_last_error(), "a Reader runs qa packages"));
  CHECK(slimpipe_reader_load(damaged_pkg) == NULL && contains(slimpipe_last_error(), "weights.bin: SHA-1 "));
  CHECK(slimpipe_reader_load(NULL) == NULL && contains(slimpipe_last_error(), "package_dir is NULL"));
  CHECK(slimpipe_reader_load("/nonexistent/slimpipe-package") == NULL);
  CHECK(contains(slimpipe_last_error(), "/nonexistent/slimpipe-package/package.json: not found"));

  /* The result is independent of its handle. */
  slimpipe_reader_free(reader);
  if (out)
    for (size_t i = 0; i < out->count; ++i) check_answer(contexts[i], &out->items[i]);
  slimpipe_answers_free(out);
  slimpipe_reader_free(NULL);
  slimpipe_answers_free(NULL);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: c_api_test PACKAGES_DIR\n");
    return 2;
  }
  snprintf(seq_cls_pkg, sizeof seq_cls_pkg, "%s/seq_cls", argv[1]);
  snprintf(token_cls_pkg, sizeof token_cls_pkg, "%s/token_cls", argv[1]);
  snprintf(qa_pkg, sizeof qa_pkg, "%s/qa", argv[1]);
  snprintf(damaged_pkg, sizeof damaged_pkg, "%s/damaged", argv[1]);
  snprintf(strict_pkg, sizeof strict_pkg, "%s/token_cls_strict", argv[1]);
  snprintf(short_pkg, sizeof short_pkg, "%s/qa_short", argv[1]);
  test_classifier();
  test_tagger();
  test_reader();
  if (failures == 0) printf("c_api_test: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
