"""The one-model service's settings, measured: ONNX Runtime's threads and the batch size, with 4 and 8 callers at once.

    .venv/bin/python benchmarks/service.py        -> benchmarks/out/service.txt

Each setting answers the same 200 decoded photos (tests/sample, cycled) sent by N threads, as pages and API calls do;
photos per second is the median of 3 rounds. Also a session with ONNX Runtime's default options (threads spinning),
several sessions sharing the cores as Voila's kernels do, for comparison.
"""
import concurrent.futures, itertools, os, statistics, sys, threading, time
from pathlib import Path
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from webclassifier.images import read_image
from webclassifier.service import ModelService
from webclassifier.twin import TwinPredictor

PHOTOS = sorted((ROOT/'tests'/'sample').glob('*/*.jpg'))
N = 200

def rate(predict, callers:int, rounds:int=3) -> float:
    "Photos per second when `callers` threads ask `predict` for one photo each, N photos in all (median of `rounds`)"
    images = [read_image(PHOTOS[i % len(PHOTOS)]) for i in range(N)]
    def one_round():
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(callers) as pool: answers = list(pool.map(lambda im: predict([im])[0], images))
        assert all(a['label'] in ('black', 'grizzly', 'teddy') for a in answers)
        return N / (time.perf_counter() - start)
    one_round()  # warm up
    return statistics.median(one_round() for _ in range(rounds))

def spinning_sessions(n:int):
    "`n` twins with ONNX Runtime's default options (threads = cores, spinning): what n Voila kernels hold"
    import onnxruntime as ort
    twins = [TwinPredictor.load(ROOT/'export.pkl') for _ in range(n)]
    for twin in twins:  # the defaults, as a kernel that does not set them has
        twin.session = ort.InferenceSession(str(ROOT/'export.onnx'), providers=['CPUExecutionProvider'])
    return twins

def main():
    lines = [f'The one-model service on the shipped twin ({os.cpu_count()} cores): photos per second, {N} photos, median of 3']
    lines.append(f'{"setting":58} {"4 callers":>10} {"8 callers":>10}')
    def row(name, predict_for):
        figures = [rate(predict_for(), callers) for callers in (4, 8)]
        lines.append(f'{name:58} {figures[0]:10.1f} {figures[1]:10.1f}')
        print(lines[-1], flush=True)
        return figures
    results = {}
    for threads in (1, 2):
        for batch in (1, 8):
            def make(threads=threads, batch=batch): return ModelService(TwinPredictor.load(ROOT/'export.pkl', threads), max_batch=batch).predict_images
            results[threads, batch] = row(f'ModelService: {threads} thread(s), batches up to {batch}', make)
    for n in (2, 4):
        def sessions(n=n):  # each caller thread on one session of its own "kernel", as with a kernel per page
            twins, mine, turn = spinning_sessions(n), threading.local(), itertools.count()
            def predict(images):
                if not hasattr(mine, 'twin'): mine.twin = twins[next(turn) % n]
                return mine.twin.predict_images(images)
            return predict
        row(f'{n} sessions of ONNX Runtime defaults (spinning), shared', sessions)
    best = max(results, key=lambda k: results[k][1])
    lines.append(f'best at 8 callers: {best[0]} thread(s), batches up to {best[1]}; batches of 8 / of 1 at 2 threads: '
                 f'{results[2, 8][1] / results[2, 1][1]:.2f}x (8 callers), {results[2, 8][0] / results[2, 1][0]:.2f}x (4 callers)')
    print(lines[-1])
    out = ROOT/'benchmarks'/'out'/'service.txt'
    out.write_text('\n'.join(lines) + '\n')

if __name__ == '__main__': main()
