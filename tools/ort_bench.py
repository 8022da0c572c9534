#!/usr/bin/env python3
"""Reference timings for Kokoro-82M under onnxruntime.

Runs the same int8 ONNX file that `avow models fetch` assembles, on a list of
sentences given as token ids or phoneme strings, once per intra-op thread
count (each in its own process, so peak RSS is per configuration), and
reports the real-time factor (synthesis time / audio duration) and peak RSS.
Writes a JSON report and one WAV per sentence.

Input (JSON list):
  [{"id": "s1", "tokens": [50, 83, ...], "style_voice": "jf_alpha"},
   {"id": "s2", "phonemes": "hˈɛlO wˈɜɹld.", "style_voice": "jm_kumo"}]
Token lists may include the 0 pads at both ends or not; pads are added when
absent. The style row is the unpadded token count, clamped to 509 (as
`avow_voice::VoicePackData::style_row`).

Or plain text (--sentences FILE, one sentence per line, `#` comments
skipped), phonemized with the espeak-ng command line (en-us, IPA mapped to
Kokoro's symbols the way misaki's espeak fallback does; espeak's own number
reading is used, so this is a rough reference, not avow's front end). Items
are then named 01, 02, ... so the WAVs line up with
`tools/whisper_wer.py --sentences FILE --audio-dir OUT/wav`.

Usage:
  python3 tools/ort_bench.py --input tools/ort_bench_sentences.json --out /tmp/ort-bench
  python3 tools/ort_bench.py --sentences tools/sentences_en.txt --voice jf_alpha --out /tmp/ort-en
  (model, vocab and voices default to the avow cache: --cache-dir, else
   $AVOW_CACHE_DIR, $XDG_CACHE_HOME/avow, ~/.cache/avow)

Deps: tools/requirements-bench.txt.
"""

import argparse
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

SAMPLE_RATE = 24000
STYLE_ROWS = 510
STYLE_DIM = 256


def default_cache_dir() -> Path:
    if os.environ.get("AVOW_CACHE_DIR"):
        return Path(os.environ["AVOW_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "avow"
    return Path.home() / ".cache" / "avow"


def read_voicepack(path: Path):
    """Style table [510, 256] from an avow voice pack (safetensors)."""
    import numpy as np

    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    style = header.get("style")
    if not style or style["dtype"] != "F32" or style["shape"] != [STYLE_ROWS, 1, STYLE_DIM]:
        raise SystemExit(f"{path}: not an avow voice pack with an f32 [510, 1, 256] style")
    start, end = style["data_offsets"]
    body = data[8 + n + start : 8 + n + end]
    return np.frombuffer(body, dtype="<f4").reshape(STYLE_ROWS, STYLE_DIM)


def load_items(path: Path, vocab: dict):
    items = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(items, list) or not items:
        raise SystemExit(f"{path}: expected a non-empty JSON list")
    out = []
    for i, it in enumerate(items):
        ident = str(it.get("id", i))
        if "tokens" in it:
            toks = [int(t) for t in it["tokens"]]
        elif "phonemes" in it:
            unknown = sorted({c for c in it["phonemes"] if c not in vocab})
            if unknown:
                raise SystemExit(f"{path}: item {ident}: symbols not in the vocabulary: {unknown}")
            toks = [vocab[c] for c in it["phonemes"]]
        else:
            raise SystemExit(f"{path}: item {ident} has neither `tokens` nor `phonemes`")
        while toks and toks[0] == 0:
            toks = toks[1:]
        while toks and toks[-1] == 0:
            toks = toks[:-1]
        if not toks or len(toks) > STYLE_ROWS - 2:
            raise SystemExit(f"{path}: item {ident} has {len(toks)} tokens (1..{STYLE_ROWS - 2} allowed)")
        if any(t < 0 or t >= 178 for t in toks):
            raise SystemExit(f"{path}: item {ident} has token ids outside 0..177")
        out.append({"id": ident, "tokens": toks, "voice": it.get("style_voice", "jf_alpha")})
    return out


# espeak IPA -> Kokoro (misaki) symbols, longest first; after --tie=^.
ESPEAK_TO_KOKORO = [
    ("a^ɪ", "I"), ("a^ʊ", "W"), ("d^ʒ", "ʤ"), ("e^ɪ", "A"), ("t^ʃ", "ʧ"), ("ɔ^ɪ", "Y"),
    ("o^ʊ", "O"), ("ə^ʊ", "O"), ("ə^l", "ᵊl"), ("ʔn", "tᵊn"), ("ʔˌn", "tᵊn"), ("ɚ", "əɹ"),
    ("ɜːɹ", "ɜɹ"), ("ɜː", "ɜɹ"), ("ɪə", "iə"), ("ʲ", ""), ("ː", ""), ("^", ""),
]


def espeak_phonemes(text: str, vocab: dict) -> str:
    res = subprocess.run(["espeak-ng", "-q", "-v", "en-us", "--ipa", "--tie=^", text],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if res.returncode != 0:
        raise SystemExit(f"espeak-ng failed: {res.stderr.decode(errors='replace').strip()}")
    # espeak drops punctuation and breaks lines at clauses: mark them as pauses.
    clauses = [l.strip() for l in res.stdout.decode("utf-8").splitlines() if l.strip()]
    out = []
    for c in clauses:
        for a, b in ESPEAK_TO_KOKORO:
            c = c.replace(a, b)
        out.append("".join(ch for ch in c if ch in vocab))
    return ", ".join(out) + "."


def sentences_to_items(path: Path, voice: str, vocab: dict) -> list:
    lines = [l.strip() for l in path.read_text(encoding="utf-8").splitlines()
             if l.strip() and not l.lstrip().startswith("#")]
    return [{"id": f"{i:02d}", "text": t, "phonemes": espeak_phonemes(t, vocab), "style_voice": voice}
            for i, t in enumerate(lines, 1)]


def rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(args) -> dict:
    """One thread configuration, in its own process."""
    import numpy as np
    import onnxruntime as ort

    cache = Path(args.cache_dir)
    vocab = json.loads((cache / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    items = load_items(Path(args.input), vocab)
    voices = {}
    for it in items:
        if it["voice"] not in voices:
            p = cache / "voices" / f"{it['voice']}.voicepack"
            if not p.is_file():
                raise SystemExit(f"voice {it['voice']}: {p} not found (run `avow models fetch`)")
            voices[it["voice"]] = read_voicepack(p)
    rss_before = rss_mb()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    t0 = time.perf_counter()
    sess = ort.InferenceSession(args.model, sess_options=opts, providers=["CPUExecutionProvider"])
    load_s = time.perf_counter() - t0

    def run(it):
        toks = it["tokens"]
        style = voices[it["voice"]][min(len(toks), STYLE_ROWS - 1)].reshape(1, STYLE_DIM)
        feeds = {
            "tokens": np.array([[0, *toks, 0]], dtype=np.int64),
            "style": np.ascontiguousarray(style, dtype=np.float32),
            "speed": np.array([1.0], dtype=np.float32),
        }
        t, c = time.perf_counter(), time.process_time()
        audio = sess.run(None, feeds)[0]
        return time.perf_counter() - t, time.process_time() - c, np.asarray(audio, np.float32).ravel()

    run(items[0])  # warm-up: first run allocates arenas
    rows = []
    for it in items:
        times, cpu, audio = [], [], None
        for _ in range(args.repeats):
            dt, dc, audio = run(it)
            times.append(dt)
            cpu.append(dc)
        secs = len(audio) / SAMPLE_RATE
        synth = statistics.median(times)
        row = {
            "id": it["id"],
            "voice": it["voice"],
            "tokens": len(it["tokens"]),
            "audio_s": round(secs, 4),
            "synth_s_median": round(synth, 4),
            "synth_s_min": round(min(times), 4),
            "cpu_s_median": round(statistics.median(cpu), 4),
            "rtf": round(synth / secs, 4) if secs > 0 else None,
        }
        if args.wav_dir:
            import soundfile as sf

            wav = Path(args.wav_dir) / f"{it['id']}.wav"
            sf.write(str(wav), np.clip(audio, -1.0, 1.0), SAMPLE_RATE, subtype="PCM_16")
            row["wav"] = str(wav)
        rows.append(row)
    total_audio = sum(r["audio_s"] for r in rows)
    total_synth = sum(r["synth_s_median"] for r in rows)
    total_cpu = sum(r["cpu_s_median"] for r in rows)
    return {
        "threads": args.threads,
        "session_load_s": round(load_s, 3),
        "rss_before_session_mb": round(rss_before, 1),
        "peak_rss_mb": round(rss_mb(), 1),
        "total_audio_s": round(total_audio, 3),
        "total_synth_s": round(total_synth, 3),
        "total_cpu_s": round(total_cpu, 3),
        "rtf": round(total_synth / total_audio, 4) if total_audio > 0 else None,
        # CPU seconds per audio second: on a shared machine, wall-clock RTF
        # includes waiting for other processes; this does not.
        "cpu_per_audio_s": round(total_cpu / total_audio, 4) if total_audio > 0 else None,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "sentences": rows,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", help="JSON list of {id, tokens|phonemes, style_voice}")
    src.add_argument("--sentences", type=Path, help="text, one sentence a line (phonemized with espeak-ng)")
    ap.add_argument("--voice", default="jf_alpha", help="with --sentences: the voice")
    ap.add_argument("--out", required=True, help="output directory (report.json, wav/)")
    ap.add_argument("--cache-dir", default=None, help="avow model cache (default as `avow models`)")
    ap.add_argument("--model", default=None, help="ONNX file (default: <cache>/kokoro-v1.0.int8.onnx)")
    ap.add_argument("--threads", default="1,2", help="comma-separated intra-op thread counts")
    ap.add_argument("--repeats", type=int, default=3, help="runs per sentence (median reported)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--wav-dir", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.cache_dir = str(Path(args.cache_dir) if args.cache_dir else default_cache_dir())
    args.model = args.model or str(Path(args.cache_dir) / "kokoro-v1.0.int8.onnx")
    if args.worker:
        args.threads = int(args.threads)
        json.dump(worker(args), sys.stdout)
        return
    if not Path(args.model).is_file():
        raise SystemExit(f"{args.model} not found: run `avow models fetch` (or pass --model)")
    if args.repeats < 1:
        raise SystemExit("--repeats must be at least 1")
    out = Path(args.out)
    (out / "wav").mkdir(parents=True, exist_ok=True)
    if args.sentences:
        vocab = json.loads((Path(args.cache_dir) / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        items = sentences_to_items(args.sentences, args.voice, vocab)
        args.input = str(out / "input.json")
        Path(args.input).write_text(json.dumps(items, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    import onnxruntime as ort

    configs = []
    for i, n in enumerate(int(t) for t in args.threads.split(",")):
        cmd = [sys.executable, __file__, "--worker", "--input", args.input, "--out", args.out,
               "--cache-dir", args.cache_dir, "--model", args.model, "--threads", str(n),
               "--repeats", str(args.repeats)]
        if i == 0:
            cmd += ["--wav-dir", str(out / "wav")]
        res = subprocess.run(cmd, stdout=subprocess.PIPE, check=False)
        if res.returncode != 0:
            raise SystemExit(f"worker with {n} thread(s) failed (exit {res.returncode})")
        cfg = json.loads(res.stdout)
        configs.append(cfg)
        print(f"threads={n}: RTF {cfg['rtf']} ({cfg['total_synth_s']} s for {cfg['total_audio_s']} s of audio), "
              f"CPU s per audio s {cfg['cpu_per_audio_s']}, peak RSS {cfg['peak_rss_mb']} MB, "
              f"load {cfg['load_avg_1m']}", file=sys.stderr)
    report = {
        "model": args.model,
        "onnxruntime": ort.__version__,
        "cpus": os.cpu_count(),
        "repeats": args.repeats,
        "input": args.input,
        "configs": configs,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({c["threads"]: {k: c[k] for k in ("rtf", "cpu_per_audio_s", "peak_rss_mb", "load_avg_1m")}
                      for c in configs}))


if __name__ == "__main__":
    main()
