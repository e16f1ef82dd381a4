"""`webclassifier train DATA --outside OOD` with no other flag makes the shipped model's recipe: trains on the data the
shipped card names (`shipped.card_data`: the cleaned bears, rebuilt from ../shared if missing, fingerprint checked) and asserts that the new card records the same
recipe and the same figures (cross-validated accuracy, validation accuracy, "not sure" threshold) as the shipped one.
Output: benchmarks/out/defaults.txt. Usage: .venv/bin/python benchmarks/defaults.py"""
import json, subprocess, sys, tempfile
from pathlib import Path
from shipped import ROOT, card_data, shipped_card

CLI = Path(sys.executable).parent/'webclassifier'
FIGURES = [('cross_validation', 'accuracy'), ('cross_validation', 'wrong'), ('metrics', 'accuracy'), ('metrics', 'n_valid'),
           ('unsure', 'threshold'), ('unsure', 'n_train')]

def outside_folder(card:dict) -> Path:
    "The card's outside folder, made by benchmarks/ood_set.py if it is missing"
    outside = ROOT/card['unsure']['outside']['folder']
    if not outside.is_dir(): subprocess.run([sys.executable, ROOT/'benchmarks'/'ood_set.py', outside], check=True)
    return outside

def main():
    shipped = shipped_card()
    data, outside = card_data(shipped), outside_folder(shipped)
    out = Path(tempfile.mkdtemp())/'export.pkl'
    cmd = ['train', shown(data), '--outside', shown(outside), '--out', out]
    res = subprocess.run([CLI, *cmd], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    new = json.loads(out.with_name('model_card.json').read_text())
    lines = [f'$ webclassifier {" ".join(map(str, cmd[:4]))} --out NEW/export.pkl', res.stderr.strip().splitlines()[-1], '',
             f'{"figure":32} {"shipped " + shipped["sha256"][:12]:>20} {"new " + new["sha256"][:12]:>20}']
    for a, b in FIGURES: lines.append(f'{a + "." + b:32} {str(shipped[a][b]):>20} {str(new[a][b]):>20}')
    same = {k: (shipped.get(k), new.get(k)) for k in ('recipe', 'arch', 'size', 'cv', 'keep', 'per_class', 'class_means', 'between', 'started_from')}
    same['settings'] = (shipped.get('settings', {}) | dict(outside=None), new.get('settings', {}) | dict(outside=None))  # every recipe field
    lines.append('recipe fields, shipped vs new: ' + ', '.join(f'{k} {a}/{b}' for k, (a, b) in same.items() if k != 'settings'))
    lines.append(f'the card\'s settings (every `Recipe` field but the outside folder\'s path): {"the same" if same["settings"][0] == same["settings"][1] else "different"}')
    print('\n'.join(lines))
    assert all(a == b for a, b in same.values()), same
    assert all(shipped[a][b] == new[a][b] for a, b in FIGURES), 'the defaults did not remake the shipped figures'
    (ROOT/'benchmarks'/'out'/'defaults.txt').write_text('\n'.join(lines) + '\n')  # only once the checks passed

def shown(p:Path) -> str:
    "`p` relative to the repository where it is inside it (as the card names it)"
    return str(Path(p).relative_to(ROOT)) if Path(p).is_relative_to(ROOT) else str(p)

if __name__ == '__main__': main()
