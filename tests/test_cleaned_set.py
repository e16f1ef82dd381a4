"The committed cleaning decisions rebuild exactly the data set the shipped model was trained on (needs ../shared beside the repo, as CI has)"
import json, os
import pytest
from servers import ROOT
from webclassifier.clean import cleaned_copy, read_decisions
from webclassifier.files import sha256_file
from webclassifier.pipeline import dataset_fingerprint

BEARS = ROOT.parent/'shared'/'data'/'bears'
DECISIONS = ROOT/'cleaning'/'bears.csv'
# outside CI a missing ../shared skips; under CI (CI=true) the test runs, and `rebuild_cleaned` fails in one line
needs_shared = pytest.mark.skipif(not BEARS.is_dir() and not os.environ.get('CI'), reason='the real photos are in ../shared (CI has them: there, a missing ../shared fails)')

def rebuild_cleaned(dest):
    "The shipped model's data set, rebuilt into the new folder `dest` with the committed decisions; the log entries"
    assert BEARS.is_dir(), f'{BEARS}: not found: the shipped model\'s data is rebuilt from ../shared beside the repo'
    return cleaned_copy(BEARS, DECISIONS, dest)

def class_photos(folder) -> list:
    "The files in `folder`'s class folders (not its manifest or log, nor the hidden .trash that keeps what was deleted)"
    return [f for d in folder.iterdir() if d.is_dir() and not d.name.startswith('.') for f in d.iterdir() if f.is_file()]

@needs_shared
def test_decisions_rebuild_the_shipped_set(tmp_path):
    card = json.loads((ROOT/'model_card.json').read_text())
    dest = tmp_path/'bears-cleaned'
    rebuild_cleaned(dest)
    assert dataset_fingerprint(dest) == card['data_sha256']
    # each decision checked on the files on disk, hashed here, not on what cleaned_copy says it did
    rows, photos = read_decisions(DECISIONS), class_photos(dest)
    placed = {sha256_file(f): f.parent.name for f in photos}
    assert len(photos) == len(class_photos(BEARS)) - sum(r['action'] == 'delete' for r in rows)
    assert all(r['sha256'] not in placed for r in rows if r['action'] == 'delete')
    assert all(placed.get(r['sha256']) == r['label'] for r in rows if r['action'] == 'relabel')
