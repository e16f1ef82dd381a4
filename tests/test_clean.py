"Cleaning with ImageClassifierCleaner's choices: files moved, never lost; logged; idempotent; undone byte for byte"
import hashlib, shutil
from pathlib import Path
import pytest
from servers import SAMPLE
from webclassifier.clean import Cleaner, DELETE, apply_cleaning, undo_cleaning, read_log
from webclassifier.download import read_manifest, write_manifest
from webclassifier.train import train_classifier

def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in Path(folder).rglob('*') if p.is_file()}

@pytest.fixture
def dataset(tmp_path):
    ds = tmp_path/'bears'
    shutil.copytree(SAMPLE, ds, ignore=shutil.ignore_patterns('*.csv'))
    rows = [dict(label=p.parent.name, query=f'{p.parent.name} bear', url=f'http://example.com/{i}', file=p.relative_to(ds).as_posix(),
                 sha256=hashlib.sha256(p.read_bytes()).hexdigest(), status='ok', reason='') for i, p in enumerate(sorted(ds.glob('*/*')))]
    write_manifest(ds, rows)
    return ds

def choose(cleaner, category, split, index, choice):
    "Pick `choice` in the dropdown of the `index`-th photo shown for `category` and `split`"
    cleaner.cleaner.dd_cats.value, cleaner.cleaner.dd_ds.value = category, split
    cleaner.cleaner.iw.widget.children[index].children[1].value = choice
    return Path(cleaner.cleaner.iw.fns[index])

def test_cleaner_apply_and_undo(dataset):
    learn = train_classifier(dataset, arch='efficientnet_lite0', epochs=1, size=64, pretrained=False, bs=8, report=lambda s: None)
    cleaner = Cleaner(learn)
    deleted = choose(cleaner, 'black', 'Train', 0, DELETE)
    relabelled = choose(cleaner, 'teddy', 'Train', 0, 'grizzly')
    shutil.copy(dataset/'grizzly'/'00000014.jpg', dataset/'grizzly'/relabelled.name)  # a file of the same name waits in grizzly
    flagged = choose(cleaner, 'grizzly', 'Valid', 0, DELETE)  # switch category and split, flag another
    cleaner.cleaner.dd_cats.value, cleaner.cleaner.dd_ds.value = 'black', 'Train'    # and back: the first choice is still shown
    assert cleaner.cleaner.iw.widget.children[0].children[1].value == DELETE
    assert sorted(cleaner.deletions()) == sorted([deleted, flagged]) and cleaner.relabels() == [(relabelled, 'grizzly')]

    before = snapshot(dataset)
    entries = apply_cleaning(dataset, cleaner.deletions(), cleaner.relabels())
    # the files are where they should be
    assert not deleted.exists() and (dataset/'.trash'/'black'/deleted.name).read_bytes() == before[f'black/{deleted.name}']
    assert not flagged.exists() and (dataset/'.trash'/'grizzly'/flagged.name).exists()
    new_name = f'{relabelled.stem}-1{relabelled.suffix}'
    assert (dataset/'grizzly'/new_name).read_bytes() == before[f'teddy/{relabelled.name}']
    assert (dataset/'grizzly'/relabelled.name).read_bytes() == before[f'grizzly/{relabelled.name}']  # not overwritten
    # nothing was lost: every byte string before is still on disk
    after = snapshot(dataset)
    assert sorted(v for k, v in after.items() if k not in ('cleaning_log.jsonl', 'manifest.csv')) == \
           sorted(v for k, v in before.items() if k != 'manifest.csv')
    # the log is complete, and the manifest follows the files
    log = read_log(dataset)
    assert [(e['action'], e['from'], e['to']) for e in log] == [(e['action'], e['from'], e['to']) for e in entries]
    assert {e['from'] for e in log} == {f'black/{deleted.name}', f'grizzly/{flagged.name}', f'teddy/{relabelled.name}'}
    assert all(e['sha256'] == hashlib.sha256((dataset/e['to']).read_bytes()).hexdigest() for e in log)
    rows = {r['url']: r for r in read_manifest(dataset)}
    assert sum(r['status'] == 'deleted' for r in rows.values()) == 2
    assert any(r['file'] == f'grizzly/{new_name}' and r['label'] == 'grizzly' for r in rows.values())
    # applying again does nothing
    assert apply_cleaning(dataset, cleaner.deletions(), cleaner.relabels()) == []
    assert snapshot(dataset) == after
    # undo restores every byte (and the manifest)
    undo_cleaning(dataset)
    restored = snapshot(dataset); restored.pop('cleaning_log.jsonl')
    assert restored == before
    assert not any((dataset/'.trash').rglob('*.*'))

def test_deleted_photo_is_not_gathered_again(tmp_path):
    "A photo deleted while cleaning stays deleted when a later gather finds it at another URL"
    from servers import ImageSite, body
    from webclassifier.download import gather_images
    photo = (SAMPLE/'black'/'00000016.jpg').read_bytes()
    with ImageSite({'/a.jpg': body(photo), '/b.jpg': body(photo)}) as site:
        rows = gather_images(tmp_path, [dict(label='black', query='', url=site.base + '/a.jpg')], progress=False)
        apply_cleaning(tmp_path, deletions=[tmp_path/rows[0]['file']])
        again = gather_images(tmp_path, [dict(label='black', query='', url=site.base + '/b.jpg')], progress=False)
    assert again[0]['status'] == 'duplicate' and again[0]['file'].startswith('.trash/black/')
    assert list((tmp_path/'black').iterdir()) == []
