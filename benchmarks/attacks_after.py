"""The "after" column of docs/public.md's attack tables: `tests/test_attacks.py` run against a real
`webclassifier app --runtime onnx`, its report lines (what each attack did to the server and the kernel) copied into
benchmarks/out/attacks_after.txt once every test passed.

    .venv/bin/python benchmarks/attacks_after.py"""
import subprocess, sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).absolute().parent.parent

def main():
    res = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests/test_attacks.py'], cwd=ROOT,
                         capture_output=True, text=True)
    print(res.stdout[-2000:])
    assert res.returncode == 0, 'tests/test_attacks.py failed: nothing written'
    commit = subprocess.run(['git', 'describe', '--always', '--dirty'], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    head = f'tests/test_attacks.py at {commit}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC: {res.stdout.strip().splitlines()[-1]}\n'
    (ROOT/'benchmarks'/'out'/'attacks_after.txt').write_text(head + (ROOT/'tests'/'artifacts'/'attacks.txt').read_text())

if __name__ == '__main__': main()
