/* The C API (slimpipe_runtime.h) from C: compiled as C11, linked against libslimpipe_runtime_c.so only.
 * Usage: c_api_test SEQ_CLS_PACKAGE QA_PACKAGE   (written by make_test_package) */
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

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: c_api_test SEQ_CLS_PACKAGE QA_PACKAGE\n");
    return 2;
  }
  const char* pkg = argv[1];
  CHECK(strcmp(slimpipe_version(), "0.1.0") == 0);
  CHECK(slimpipe_package_format_version() == 1);
  CHECK(strcmp(slimpipe_last_error(), "") == 0);
  CHECK(strlen(slimpipe_cpu_isa()) > 0);
  CHECK(slimpipe_set_threads(1) == SLIMPIPE_OK && slimpipe_threads() == 1);
  CHECK(slimpipe_set_threads(0) == SLIMPIPE_ERROR && contains(slimpipe_last_error(), "must be >= 1"));

  char task[16];
  CHECK(slimpipe_package_task(pkg, task, sizeof task) == SLIMPIPE_OK && strcmp(task, "seq_cls") == 0);
  CHECK(slimpipe_package_task(argv[2], task, 3) == SLIMPIPE_OK && strcmp(task, "qa") == 0);

  slimpipe_classifier* clf = slimpipe_classifier_load(pkg);
  if (!clf) {
    fprintf(stderr, "load failed: %s\n", slimpipe_last_error());
    return 1;
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
  CHECK(slimpipe_classifier_load(argv[2]) == NULL);
  CHECK(contains(slimpipe_last_error(), "task qa, a Classifier runs seq_cls packages"));
  CHECK(strchr(slimpipe_last_error(), '\n') == NULL);
  CHECK(slimpipe_classifier_load(NULL) == NULL && contains(slimpipe_last_error(), "package_dir is NULL"));

  /* The last error is per thread: another thread's failure leaves this thread's message as it was. */
  const char* before = "task qa";
  CHECK(slimpipe_classifier_load(argv[2]) == NULL);
  pthread_t thread;
  void* thread_ok = NULL;
  CHECK(pthread_create(&thread, NULL, fail_in_thread, NULL) == 0 && pthread_join(thread, &thread_ok) == 0);
  CHECK(thread_ok == (void*)1);
  CHECK(contains(slimpipe_last_error(), before));

  slimpipe_classifications_free(out);
  slimpipe_classifier_free(clf);
  slimpipe_classifier_free(NULL);
  slimpipe_classifications_free(NULL);

  if (failures == 0) printf("c_api_test: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
