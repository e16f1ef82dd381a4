"""Saved outputs that cannot go stale: a notebook cell tagged `card` shows the shipped model's figures (read from
model_card.json, checked against export.pkl); run again in a fresh process, it prints exactly what was saved.
After changing the model or such a cell: `nbdev-test --save`, then `nbdev-clean` (docs/developing.md)."""
import json, re, subprocess, sys
import pytest
from servers import ROOT

NOTEBOOKS = sorted((ROOT/'nbs').glob('*.ipynb'))

def card_cells() -> list:
    "(notebook, cell) for each code cell tagged `card`"
    return [(nb, c) for nb in NOTEBOOKS for c in json.loads(nb.read_text())['cells']
            if c['cell_type'] == 'code' and 'card' in c['metadata'].get('tags', [])]

def saved_stdout(cell:dict) -> str:
    "What the cell printed when its notebook was saved"
    return ''.join(''.join(o['text']) for o in cell['outputs'] if o['output_type'] == 'stream' and o['name'] == 'stdout')

@pytest.mark.parametrize('nb,cell', card_cells(), ids=lambda x: getattr(x, 'stem', None) or x.get('id'))
def test_card_cell_prints_what_was_saved(nb, cell):
    saved = saved_stdout(cell)
    assert saved, f'{nb.name}: the card cell {cell["id"]} has no saved output (nbdev-test --save)'
    res = subprocess.run([sys.executable, '-c', ''.join(cell['source'])], cwd=ROOT/'nbs', capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout == saved, f'{nb.name}: saved output is stale\nsaved:\n{saved}\nnow:\n{res.stdout}'

def test_the_shipped_figures_are_shown_by_card_cells():
    assert {nb.stem for nb, _ in card_cells()} >= {'04_unsure', '05_card'}

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_its_outputs(nb):
    "Saved as run, not cleared: each notebook keeps outputs (one saved without running, or with outputs cleared, has none)"
    cells = [c for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code']
    assert any(c['outputs'] for c in cells), f'{nb.name}: no saved outputs (nbdev-test --save)'

def progress_bars(cell:dict) -> bool:
    "Whether one of the cell's saved outputs holds a progress bar (fastprogress: text bars of █, or HTML <progress>)"
    texts = [''.join(o.get('text', '')) + ''.join(o.get('data', {}).get('text/html', '')) for o in cell['outputs']]
    return any('█' in t or '<progress' in t for t in texts)

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=lambda p: p.stem)
def test_no_progress_bars_saved(nb):
    "A progress bar saved in a notebook is noise to its reader: the examples that train or predict run without one"
    cells = [c['id'] for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code' and progress_bars(c)]
    assert not cells, f'{nb.name}: progress bars saved in cells {cells} (run them under learn.no_bar(), then nbdev-test --save)'

def warnings_shown(cell:dict) -> list:
    "The lines of the cell's saved outputs that are Python warnings (`warnings.warn`'s `path:line: SomeWarning: ...`)"
    return [line for o in cell['outputs'] for line in ''.join(o.get('text', '')).splitlines()
            if re.search(r':\d+: \w*Warning: ', line)]

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=lambda p: p.stem)
def test_no_warnings_saved(nb):
    "A warning saved in a notebook (fastai's own deprecations, the pickle notice on a pickle the notebook made) is noise to its reader"
    found = {c['id']: warnings_shown(c) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code' and warnings_shown(c)}
    assert not found, f'{nb.name}: warnings saved: {found} (filter them in a hidden cell, then nbdev-test --save)'
