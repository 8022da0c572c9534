/* Exercises the avow C ABI the way a C program would: a stock voice spoken to
 * a buffer and streamed through a callback, cancel from the callback, two
 * threads sharing one engine and voice, NULL and invalid arguments, and the
 * consent gate refusing voices.
 *
 * Usage: speak CACHE_DIR TRUST_DIR REVOCATION_DIR LEDGER OUT_DIR CASES
 *
 * CASES is a file of tab-separated lines
 *   EXPECTED_STATUS_NAME  PURPOSE  LANGUAGE  PACK  RECORD  MESSAGE_PART
 * each loaded with avow_voice_load and checked against the expected status
 * and a part of the expected error message ("-" for none).
 *
 * Writes OUT_DIR/buffer.f32 and OUT_DIR/stream.f32 (raw little-endian floats)
 * for the caller to check the watermark, prints "key value" lines on standard
 * output, and exits 0 only if every check passed. Built by tests/c_program.rs.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avow.h"

/* Two sentences, about 7 s of speech: the watermark payload needs a few
 * seconds of audio to decode reliably. */
#define TEXT                                          \
  "The library speaks these words for a C program. " \
  "Like every other output, they are consented, marked and logged."

static int failures = 0;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (!(cond)) {                                         \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fprintf(stderr, " [last error: %s]\n", avow_last_error()); \
      failures++;                                          \
    }                                                      \
  } while (0)

/* Expects `status` and a non-empty message containing `part`. */
static void expect_failure(AvowStatus status, AvowStatus expected, const char *part, const char *what) {
  const char *message = avow_last_error();
  CHECK(status == expected, "%s: got %s, expected %s", what, avow_status_name(status), avow_status_name(expected));
  CHECK(message != NULL && message[0] != '\0', "%s: no error message", what);
  if (part != NULL && message != NULL) {
    CHECK(strstr(message, part) != NULL, "%s: message lacks \"%s\": %s", what, part, message);
  }
}

static int write_floats(const char *dir, const char *name, const float *samples, size_t len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL) return -1;
  size_t written = fwrite(samples, sizeof(float), len, f);
  return (fclose(f) == 0 && written == len) ? 0 : -1;
}

/* Collects streamed pieces; stops after `cancel_after` pieces when > 0. */
struct collector {
  float *samples;
  size_t len;
  size_t pieces;
  size_t cancel_after;
  int bad_piece;
};

static int collect(const float *samples, size_t len, void *user_data) {
  struct collector *c = user_data;
  if (samples == NULL || len == 0) c->bad_piece = 1;
  float *grown = realloc(c->samples, (c->len + len) * sizeof(float));
  if (grown == NULL) return 1;
  memcpy(grown + c->len, samples, len * sizeof(float));
  c->samples = grown;
  c->len += len;
  c->pieces++;
  return (c->cancel_after > 0 && c->pieces >= c->cancel_after) ? 1 : 0;
}

struct job {
  const AvowEngine *engine;
  const AvowVoice *voice;
  const char *text;
  AvowStatus status;
  size_t len;
  uint32_t watermark;
};

static void *speak_job(void *arg) {
  struct job *j = arg;
  AvowSpeech speech;
  j->status = avow_speak(j->engine, j->voice, j->text, 1.0f, &speech);
  j->len = speech.len;
  j->watermark = speech.watermark;
  avow_speech_free(&speech);
  return NULL;
}

static void run_cases(const AvowEngine *engine, const char *cases_path) {
  FILE *f = fopen(cases_path, "r");
  CHECK(f != NULL, "cannot open %s", cases_path);
  if (f == NULL) return;
  char line[8192];
  int n = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    line[strcspn(line, "\n")] = '\0';
    char *fields[6];
    char *rest = line;
    int count = 0;
    for (; count < 6; count++) {
      fields[count] = rest;
      char *tab = strchr(rest, '\t');
      if (tab == NULL) { count++; break; }
      *tab = '\0';
      rest = tab + 1;
    }
    if (count != 6) continue;
    n++;
    AvowVoice *voice = (AvowVoice *)&n; /* must be overwritten with NULL on failure */
    AvowStatus status = avow_voice_load(engine, fields[3], fields[4], fields[1], fields[2], &voice);
    const char *got = avow_status_name(status);
    CHECK(strcmp(got, fields[0]) == 0, "case %d (%s): got %s, expected %s", n, fields[4], got, fields[0]);
    if (status == AVOW_STATUS_OK) {
      uint32_t watermark = 0;
      CHECK(voice != NULL, "case %d: OK but no voice", n);
      CHECK(avow_voice_watermark(voice, &watermark) == AVOW_STATUS_OK, "case %d: watermark", n);
      printf("case %d %s watermark %08x\n", n, got, (unsigned)watermark);
    } else {
      CHECK(voice == NULL, "case %d: failed but left a voice pointer", n);
      const char *message = avow_last_error();
      CHECK(message[0] != '\0', "case %d: no error message", n);
      if (strcmp(fields[5], "-") != 0) {
        CHECK(strstr(message, fields[5]) != NULL, "case %d: message lacks \"%s\": %s", n, fields[5], message);
      }
      printf("case %d %s message %s\n", n, got, message);
    }
    avow_voice_free(voice == (AvowVoice *)&n ? NULL : voice);
  }
  fclose(f);
  printf("cases %d\n", n);
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s CACHE_DIR TRUST_DIR REVOCATION_DIR LEDGER OUT_DIR CASES\n", argv[0]);
    return 2;
  }
  const char *cache = argv[1], *trust = argv[2], *revoked = argv[3], *ledger = argv[4], *out_dir = argv[5];

  CHECK(strlen(avow_version()) > 0, "empty version");
  printf("version %s\n", avow_version());

  /* NULL out-pointer: refused before any work. */
  expect_failure(avow_engine_open(cache, trust, revoked, ledger, NULL), AVOW_STATUS_NULL_ARGUMENT, "out_engine",
                 "engine_open(NULL out)");

  AvowEngine *engine = NULL;
  AvowStatus status = avow_engine_open(cache, trust, revoked, ledger, &engine);
  if (status != AVOW_STATUS_OK || engine == NULL) {
    fprintf(stderr, "FAIL: avow_engine_open: %s: %s\n", avow_status_name(status), avow_last_error());
    return 1;
  }
  CHECK(avow_last_error()[0] == '\0', "a successful call leaves an error message");

  /* Bad arguments to the voice constructors. */
  AvowVoice *voice = NULL;
  expect_failure(avow_voice_stock(engine, NULL, "accessibility", "en-us", &voice), AVOW_STATUS_NULL_ARGUMENT, "name",
                 "stock(NULL name)");
  expect_failure(avow_voice_stock(NULL, "jf_alpha", "accessibility", "en-us", &voice), AVOW_STATUS_NULL_ARGUMENT,
                 "engine", "stock(NULL engine)");
  expect_failure(avow_voice_stock(engine, "jf_alpha", "accessibility", "en-\xff", &voice), AVOW_STATUS_INVALID_UTF8,
                 "language", "stock(invalid UTF-8)");
  expect_failure(avow_voice_stock(engine, "nobody", "accessibility", "en-us", &voice), AVOW_STATUS_UNKNOWN_VOICE,
                 "nobody", "stock(unknown)");
  expect_failure(avow_voice_stock(engine, "jf_alpha", "spam", "en-us", &voice), AVOW_STATUS_INVALID_ARGUMENT, "spam",
                 "stock(bad purpose)");
  expect_failure(avow_voice_load(engine, NULL, "x", "aac", "en-us", &voice), AVOW_STATUS_NULL_ARGUMENT, "pack_path",
                 "load(NULL pack)");
  CHECK(voice == NULL, "a failed constructor left a voice");

  status = avow_voice_stock(engine, "jf_alpha", "accessibility", "en-us", &voice);
  if (status != AVOW_STATUS_OK) {
    fprintf(stderr, "FAIL: stock voice: %s: %s\n", avow_status_name(status), avow_last_error());
    return 1;
  }
  uint32_t watermark = 0;
  CHECK(avow_voice_watermark(voice, &watermark) == AVOW_STATUS_OK, "voice watermark");
  expect_failure(avow_voice_watermark(voice, NULL), AVOW_STATUS_NULL_ARGUMENT, "out_watermark", "watermark(NULL out)");
  printf("voice_watermark %08x\n", (unsigned)watermark);

  /* One buffer. */
  AvowSpeech speech;
  status = avow_speak(engine, voice, TEXT, 1.0f, &speech);
  CHECK(status == AVOW_STATUS_OK, "speak: %s", avow_status_name(status));
  CHECK(speech.samples != NULL && speech.len > AVOW_SAMPLE_RATE, "speak: %zu samples", speech.len);
  CHECK(speech.sample_rate == AVOW_SAMPLE_RATE, "speak: rate %u", (unsigned)speech.sample_rate);
  CHECK(speech.watermark == watermark, "speak: watermark %08x, voice %08x", (unsigned)speech.watermark,
        (unsigned)watermark);
  CHECK(write_floats(out_dir, "buffer.f32", speech.samples, speech.len) == 0, "cannot write buffer.f32");
  printf("buffer_samples %zu\n", speech.len);
  avow_speech_free(&speech);
  CHECK(speech.samples == NULL && speech.len == 0, "speech_free did not zero the speech");
  avow_speech_free(&speech); /* harmless twice */

  expect_failure(avow_speak(engine, voice, NULL, 1.0f, &speech), AVOW_STATUS_NULL_ARGUMENT, "text", "speak(NULL text)");
  CHECK(speech.samples == NULL && speech.len == 0, "failed speak left samples");
  expect_failure(avow_speak(engine, voice, "Hello.", 9.0f, &speech), AVOW_STATUS_INVALID_ARGUMENT, "speed",
                 "speak(speed 9)");
  expect_failure(avow_speak(engine, voice, "?! ...", 1.0f, &speech), AVOW_STATUS_TEXT, NULL, "speak(nothing to say)");
  expect_failure(avow_speak(engine, voice, "caf\xe9", 1.0f, &speech), AVOW_STATUS_INVALID_UTF8, "text",
                 "speak(invalid UTF-8)");
  expect_failure(avow_speak(engine, voice, "Hello.", 1.0f, NULL), AVOW_STATUS_NULL_ARGUMENT, "out_speech",
                 "speak(NULL out)");

  /* Sentence by sentence. */
  struct collector all = {0};
  status = avow_stream(engine, voice, TEXT, 1.0f, collect, &all);
  CHECK(status == AVOW_STATUS_OK, "stream: %s", avow_status_name(status));
  CHECK(all.pieces >= 2, "stream: %zu pieces for two sentences", all.pieces);
  CHECK(!all.bad_piece, "stream: an empty or NULL piece");
  CHECK(all.len > AVOW_SAMPLE_RATE, "stream: %zu samples", all.len);
  CHECK(write_floats(out_dir, "stream.f32", all.samples, all.len) == 0, "cannot write stream.f32");
  printf("stream_pieces %zu\nstream_samples %zu\n", all.pieces, all.len);
  free(all.samples);

  /* Cancel from the callback after the first piece: no second piece is made. */
  struct collector first = {0};
  first.cancel_after = 1;
  expect_failure(avow_stream(engine, voice, "One sentence here. Another one there. And a third.", 1.0f, collect, &first),
                 AVOW_STATUS_CANCELLED, "cancelled", "stream(cancel)");
  CHECK(first.pieces == 1, "cancel: %zu pieces delivered", first.pieces);
  printf("cancelled_pieces %zu\n", first.pieces);
  free(first.samples);

  expect_failure(avow_stream(engine, voice, "Hello.", 1.0f, NULL, NULL), AVOW_STATUS_NULL_ARGUMENT, "callback",
                 "stream(NULL callback)");

  /* One engine and one voice shared by two threads at once. */
  struct job jobs[2] = {{engine, voice, "The first thread speaks.", AVOW_STATUS_INTERNAL, 0, 0},
                        {engine, voice, "The second thread speaks.", AVOW_STATUS_INTERNAL, 0, 0}};
  pthread_t threads[2];
  for (int i = 0; i < 2; i++) CHECK(pthread_create(&threads[i], NULL, speak_job, &jobs[i]) == 0, "pthread_create");
  for (int i = 0; i < 2; i++) {
    pthread_join(threads[i], NULL);
    CHECK(jobs[i].status == AVOW_STATUS_OK, "thread %d: %s", i, avow_status_name(jobs[i].status));
    CHECK(jobs[i].len > 0 && jobs[i].watermark == watermark, "thread %d: %zu samples", i, jobs[i].len);
  }
  printf("threads_spoke 2\n");

  /* The consent gate. */
  run_cases(engine, argv[6]);

  avow_voice_free(voice);
  avow_engine_free(engine);
  avow_engine_free(NULL);
  avow_voice_free(NULL);
  avow_speech_free(NULL);

  if (failures > 0) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("all checks passed\n");
  return 0;
}
