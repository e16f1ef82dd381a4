"""What reading one photo for a server takes in memory, against what `decoding_bytes` counts for it before decoding:
a 16 Mpx picture (4000 x 4000, random pixels) in each format, read as the app's server and the JSON API read it
(`read_image(..., max_side=SERVED_SIDE)`), each in a fresh process; the rise of the process's peak resident memory.
Output: benchmarks/out/decode_memory.txt. Usage: .venv/bin/python benchmarks/decode_memory.py"""
import io, subprocess, sys
from shipped import output_file

KINDS = ['jpeg', 'png-rgb', 'png-rgba', 'png-la', 'webp-rgb', 'webp-rgba']

def measure(kind:str) -> tuple:
    "In this process: (bytes counted, rise of the peak resident bytes) for reading a 16 Mpx `kind` shrunk to 1024 px"
    import numpy as np
    from PIL import Image
    from webclassifier.images import SERVED_SIDE, decoding_bytes, read_image
    im = Image.fromarray(np.random.default_rng(0).integers(0, 255, (4000, 4000, 4), np.uint8), 'RGBA')
    fmt, mode = kind.split('-') if '-' in kind else (kind, 'rgb')
    buf = io.BytesIO(); im.convert(mode.upper()).save(buf, fmt.upper(), **({'quality': 80} if fmt != 'png' else {'compress_level': 1}))
    data = buf.getvalue(); del im, buf
    status = lambda key: int(open('/proc/self/status').read().split(key + ':')[1].split()[0]) * 1024
    open('/proc/self/clear_refs', 'w').write('5')  # the peak (VmHWM) starts again from what is resident now
    before = status('VmRSS')
    opened = Image.open(io.BytesIO(data))
    if opened.format == 'JPEG': opened.draft(None, (SERVED_SIDE, SERVED_SIDE))  # as `decode_image` counts a JPEG
    counted = decoding_bytes(opened, copies=False)
    read_image(data, max_side=SERVED_SIDE, max_decoded=10**12)
    return counted, status('VmHWM') - before

if __name__ == '__main__' and len(sys.argv) == 2: print(*measure(sys.argv[1]))
elif __name__ == '__main__':
    with output_file('decode_memory.txt'):
        print('a 16 Mpx picture (4000 x 4000) read shrunk to 1024 px, as the servers read a photo; each in a fresh process')
        for kind in KINDS:
            out = subprocess.run([sys.executable, __file__, kind], capture_output=True, text=True, check=True).stdout
            counted, rise = map(int, out.split())
            print(f'{kind:10} counted {counted/1e6:4.0f} MB; the peak rose {rise/1e6:4.0f} MB: {rise/counted:.2f}x the count')
