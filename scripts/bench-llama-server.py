#!/usr/bin/env python3
"""llama.cpp's server beside `cargo bench --bench ghost_latency`: the same GGUF, 2 threads, its
prompt cache on, the same kind of draft and typing.

Usage: scripts/bench-llama-server.py LLAMA_SERVER_BINARY [REQUESTS]

The draft is built as the bench builds it (prose paragraphs of tests/fixtures/blog after a front
matter title) and cut so that the prompt is as long as our bench's (~467 tokens), wrapped in the
ChatML turn our prompt uses. Cold: start the server and answer the first request. Warm: type one
more word, ask for 1 token (first token) and for 16 tokens (greedy, whole suggestion); times are
wall clock from the request to the answer, as a client sees them.
"""
import json, os, pathlib, re, socket, statistics, subprocess, sys, time, urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODEL = pathlib.Path.home() / ".cache/voicetune/models/SmolLM2-135M-Instruct.Q4_1.gguf"
TYPED = ("copper lanterns quietly harbour beneath orchard velvet ladders thistle marble pockets "
         "drizzle compass saddle whistle meadow anchor pebbles lilac timber glacier parcel hinges "
         "blossom canvas ember falcon gravel hollow juniper kettle linen mosaic nutmeg oyster "
         "pewter quarry raven sorrel tundra umber vessel walnut yarrow zephyr bramble cinder "
         "dapple fennel garnet").split()


def post(port, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def prose():
    body = []
    for f in sorted((ROOT / "tests/fixtures/blog").iterdir()):
        text = f.read_text()
        rest = re.split(r"^(?:---|\+\+\+)\s*$", text, maxsplit=2, flags=re.M)[-1]
        for p in rest.strip().split("\n\n"):
            if not p.startswith(("```", "<", "!")):
                body.append(p.replace("\n", " "))
    return "\n\n".join(body)


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round((len(xs) - 1) * p))]


def main():
    binary, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 50
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.time()
    server = subprocess.Popen([binary, "-m", str(MODEL), "-t", "2", "-tb", "2", "-c", "4096",
                               "--port", str(port), "-np", "1", "--no-webui"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except Exception:
                time.sleep(0.02)
        text = prose()
        # Our bench's prompt is ~467 tokens per request (the prompt header and the 384-512
        # draft tokens its window keeps): cut the draft so this prompt is as long.
        while len(post(port, "/tokenize", {"content": text})["tokens"]) > 420:
            text = text[len(text) // 10:]
        text = text[text.index(" ") + 1:].rstrip(".")

        def ask(draft, tokens):
            prompt = ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained "
                      "by Hugging Face<|im_end|>\n<|im_start|>user\nWrite a blog post titled: "
                      "Small repairs<|im_end|>\n<|im_start|>assistant\n" + draft)
            t = time.time()
            r = post(port, "/completion", {"prompt": prompt, "n_predict": tokens,
                                           "cache_prompt": True, "temperature": 0, "ignore_eos": True,
                                           "repeat_penalty": 1.05, "repeat_last_n": 64})
            return (time.time() - t) * 1e3, r

        cold_ms, _ = ask(text, 16)
        cold = (time.time() - start) * 1e3
        ask(text, 1)
        first, whole, cached = [], [], []
        for word in (TYPED * 2)[:n]:
            text += " " + word
            t1, _ = ask(text, 1)
            t16, r = ask(text, 16)
            first.append(t1)
            whole.append(t16)
            cached.append(r.get("tokens_cached", 0))
        rss = 0
        for line in open(f"/proc/{server.pid}/status"):
            if line.startswith("VmHWM:"):
                rss = int(line.split()[1]) / 1024
        print(f"llama.cpp server: {n} typed words, 2 threads, prompt cache on")
        print(f"cold (start + load + first 16-token answer): {cold:.0f} ms (the request alone {cold_ms:.0f} ms)")
        print(f"warm, first token: p50 {percentile(first, .5):.1f} ms, p95 {percentile(first, .95):.1f} ms")
        print(f"warm, whole 16-token suggestion: p50 {percentile(whole, .5):.1f} ms, p95 {percentile(whole, .95):.1f} ms")
        print(f"tokens cached per request: {statistics.mean(cached):.0f}; peak RSS {rss:.0f} MB")
    finally:
        server.kill()


if __name__ == "__main__":
    main()
