"Cleaning with ImageClassifierCleaner's choices: files moved, never lost; logged; idempotent; undone byte for byte"
import hashlib, shutil
from pathlib import Path
import pytest
from servers import SAMPLE
from webclassifier.clean import Cleaner, DELETE, apply_cleaning, undo_cleaning, read_log
from webclassifier.files import read_manifest, write_manifest
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
    learn = train_classifier(dataset, arch='efficientnet_lite0', epochs=1, size=64, pretrained=False, bs=8, log=lambda s: None, recipe='finetune')
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
        rows = gather_images(tmp_path, [dict(label='black', query='', url=site.base + '/a.jpg')], progress=False, allow_local=True)
        apply_cleaning(tmp_path, deletions=[tmp_path/rows[0]['file']])
        again = gather_images(tmp_path, [dict(label='black', query='', url=site.base + '/b.jpg')], progress=False, allow_local=True)
    assert again[0]['status'] == 'duplicate' and again[0]['file'].startswith('.trash/black/')
    assert list((tmp_path/'black').iterdir()) == []

def on_disk(ds):
    "Every manifest row of status ok, deleted or duplicate names a file that exists"
    return all((ds/r['file']).exists() for r in read_manifest(ds) if r['status'] in ('ok', 'deleted', 'duplicate'))

def test_manifest_follows_files_with_duplicate_rows(dataset):
    "A file that other URLs' `duplicate` rows point at is relabelled, deleted and restored: those rows follow, and stay duplicates"
    rows = read_manifest(dataset)
    target = next(r for r in rows if r['label'] == 'teddy')
    rows += [dict(target, url=f'http://mirror.example.com/{i}', status='duplicate', reason=f"same picture as {target['file']}") for i in range(2)]
    write_manifest(dataset, rows)
    before = read_manifest(dataset)
    count = lambda rs, s: sum(r['status'] == s for r in rs)
    apply_cleaning(dataset, relabels=[(dataset/target['file'], 'grizzly')])
    after = read_manifest(dataset)
    assert [count(after, s) for s in ('ok', 'duplicate')] == [count(before, s) for s in ('ok', 'duplicate')] and on_disk(dataset)
    moved = [r for r in after if r['url'] == target['url']][0]
    assert moved['label'] == 'grizzly' and moved['file'].startswith('grizzly/')
    assert all(r['file'] == moved['file'] and r['label'] == 'teddy' for r in after if r['status'] == 'duplicate')
    apply_cleaning(dataset, deletions=[dataset/moved['file']])
    assert count(read_manifest(dataset), 'duplicate') == 2 and on_disk(dataset)
    undo_cleaning(dataset, everything=True)
    assert read_manifest(dataset) == before

def test_a_move_failing_halfway_leaves_log_manifest_and_files_consistent(dataset):
    "The second of three moves fails (its target 'folder' is a file): the first is logged and in the manifest, nothing is lost"
    (dataset/'blocked').write_text('a file where a class folder would go')
    files = sorted((dataset/'teddy').iterdir())[:3]
    before = snapshot(dataset)
    with pytest.raises(OSError):
        apply_cleaning(dataset, relabels=[(files[0], 'grizzly'), (files[1], 'blocked'), (files[2], 'black')])
    log = read_log(dataset)
    assert [(e['from'], e['to']) for e in log] == [(f'teddy/{files[0].name}', f'grizzly/{files[0].name}')]
    assert files[1].exists() and files[2].exists() and not files[0].exists()
    assert any(r['file'] == f'grizzly/{files[0].name}' and r['label'] == 'grizzly' for r in read_manifest(dataset)) and on_disk(dataset)
    after = snapshot(dataset)
    assert sorted(v for k, v in after.items() if k.endswith(('.jpg', '.webp', '.png'))) == \
           sorted(v for k, v in before.items() if k.endswith(('.jpg', '.webp', '.png')))
    # the same choices, once the obstacle is gone, finish the job; undo then restores everything
    (dataset/'blocked').unlink()
    apply_cleaning(dataset, relabels=[(files[0], 'grizzly'), (files[1], 'blocked'), (files[2], 'black')])
    assert not files[1].exists() and not files[2].exists() and on_disk(dataset)
    undo_cleaning(dataset, everything=True)
    restored = snapshot(dataset); restored.pop('cleaning_log.jsonl')
    before.pop('blocked')
    assert restored == before

def test_probe_cleaner_ranks_by_out_of_fold_losses_without_running_the_model(dataset, tmp_path):
    "train_and_export's probe (cv, fitted on every photo): its cleaner shows every photo under Train, each class's highest out-of-fold loss first, and runs no model"
    import torch
    from webclassifier.pipeline import Recipe, train_and_export
    from webclassifier.clean import by_loss
    learn = train_and_export(dataset, tmp_path/'model'/'export.pkl', Recipe(size=64, cv=3), log=lambda s: None, progress=False)
    images = []
    def count(module, args, result):
        if isinstance(module, torch.nn.Conv2d) and module.in_channels == 3: images.append(len(args[0]))
    hook = torch.nn.modules.module.register_module_forward_hook(count)
    try: cleaner = Cleaner(learn)
    finally: hook.remove()
    assert images == [] and list(cleaner.cleaner.dd_ds.options) == ['Train']  # no validation split: nothing else to show
    worst = by_loss(learn.folds['vocab'], learn.folds['photos'])
    for label in learn.dls.vocab:
        cleaner.cleaner.dd_cats.value = label
        mine = [r['file'] for r in worst if r['label'] == label]
        assert [Path(f).relative_to(dataset).as_posix() for f in cleaner.cleaner.iw.fns] == mine[:len(cleaner.cleaner.iw.fns)]
    deleted = choose(cleaner, learn.dls.vocab[0], 'Train', 0, DELETE)
    assert cleaner.deletions() == [deleted]
