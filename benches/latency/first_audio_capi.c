/* Time to first audio through the C ABI with the engine already loaded: what
 * a long-lived embedder (an AAC app, or a speech-dispatcher module that keeps
 * avow in process) waits between handing over text and receiving the first
 * watermarked samples. Built and run by first_audio.sh.
 *
 * Usage: first_audio_capi LEDGER REPEATS TEXT...
 * Prints one line per run: "capi <ms to first audio> <text index> <CPU ms>",
 * where CPU ms is the process's user + system time over the call (all
 * threads), a figure that other load on the machine inflates much less than
 * the wall time.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "avow.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Notes when the first piece arrives and stops the stream there. */
static double cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int first_piece(const float *samples, size_t len, void *user_data) {
  (void)samples;
  (void)len;
  *(double *)user_data = now_ms();
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s LEDGER REPEATS TEXT...\n", argv[0]);
    return 2;
  }
  int repeats = atoi(argv[2]);
  AvowEngine *engine = NULL;
  double t0 = now_ms();
  AvowStatus status = avow_engine_open(NULL, NULL, NULL, argv[1], &engine);
  if (status != AVOW_STATUS_OK) {
    fprintf(stderr, "engine: %s: %s\n", avow_status_name(status), avow_last_error());
    return 1;
  }
  printf("open %.0f\n", now_ms() - t0);
  AvowVoice *voice = NULL;
  status = avow_voice_stock(engine, "jf_alpha", "accessibility", "en-us", &voice);
  if (status != AVOW_STATUS_OK) {
    fprintf(stderr, "voice: %s: %s\n", avow_status_name(status), avow_last_error());
    return 1;
  }
  for (int r = 0; r < repeats; r++) {
    for (int t = 3; t < argc; t++) {
      double first = 0;
      double start = now_ms();
      double cpu_start = cpu_ms();
      status = avow_stream(engine, voice, argv[t], 1.0f, first_piece, &first);
      double cpu = cpu_ms() - cpu_start;
      if (status != AVOW_STATUS_CANCELLED && status != AVOW_STATUS_OK) {
        fprintf(stderr, "stream: %s: %s\n", avow_status_name(status), avow_last_error());
        return 1;
      }
      printf("capi %.0f %d %.0f\n", first - start, t - 3, cpu);
      fflush(stdout);
    }
  }
  avow_voice_free(voice);
  avow_engine_free(engine);
  return 0;
}
