"`nbs/retrain.ipynb` run top to bottom by papermill, as a person reruns it with their own settings: two classes, photos from a loopback server"
import csv, json, os, shutil, tempfile, time
import nbformat, papermill
from servers import ImageSite, ROOT, SAMPLE, body, missed_wakeups, poll_shell_in_short_waits
from webclassifier.clean import read_log
from webclassifier.pipeline import read_runs

def files_under(root) -> dict:
    "Every file under `root` (but the virtualenv's, git's and the test artifacts) with its size and modification time"
    skip, found = {'.venv', '.git', 'artifacts', '__pycache__', '.ipynb_checkpoints'}, {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in skip]
        for n in names:
            st = os.stat(os.path.join(folder, n)); found[os.path.join(folder, n)] = (st.st_size, st.st_mtime_ns)
    return found

COUNT = """import torch  # added by the test: the images any EfficientNet's first layer (its one convolution of 3 channels) sees
body_images = []
def count_images(module, args, result):
    if isinstance(module, torch.nn.Conv2d) and module.in_channels == 3: body_images.append(len(args[0]))
counting = torch.nn.modules.module.register_module_forward_hook(count_images)"""

CHOOSE = """# added by the test: a person's choices in the cleaner's widget (its class and split menus, a photo's menu)
def choose(fn, choice):
    cleaner.cleaner.dd_ds.value = 'Valid' if fn in list(learn.dls.valid_ds.items) else 'Train'
    cleaner.cleaner.dd_cats.value = fn.parent.name
    shown = [Path(f) for f in cleaner.cleaner.iw.fns]
    cleaner.cleaner.iw.widget.children[shown.index(fn)].children[1].value = choice
deleted = dls.valid_ds.items[0]  # the photo the last cell would have answered for first
relabelled = next(f for f in dls.train_ds.items if f.parent.name == 'grizzly' and f != deleted)
choose(deleted, '<Delete>'); choose(relabelled, 'teddy')
print(f'chose: {deleted.parent.name}/{deleted.name} deleted, grizzly/{relabelled.name} relabelled teddy')"""

def counted(notebook, dest):
    "The notebook with the test's counter of the body's images (set after its parameters, printed before the heat maps and at the end) and its choices in the cleaner"
    nb = nbformat.read(notebook, as_version=4)
    first = [c.source.splitlines()[0] if c.source else '' for c in nb.cells]
    nb.cells.insert(first.index('cleaner = Cleaner(learn)') + 1, nbformat.v4.new_code_cell(CHOOSE))
    heatmaps = first.index('predictor = Predictor(learn)  # the model just exported, as the app runs it (not loaded again)')
    nb.cells.insert(heatmaps, nbformat.v4.new_code_cell("print(f'body images before the heat maps: {sum(body_images)}')"))
    nb.cells.insert(first.index('import warnings'), nbformat.v4.new_code_cell(COUNT))  # before the imports cell
    nb.cells.append(nbformat.v4.new_code_cell("print(f'body images in all: {sum(body_images)}')"))
    nbformat.write(nb, dest)
    return dest

def printed(cell) -> str: return ''.join(o.get('text', '') for o in cell.outputs)
def has_plot(cell) -> bool: return any('image/png' in o.get('data', {}) for o in cell.outputs)

def test_retrain_notebook_runs_top_to_bottom_with_injected_parameters(tmp_path, monkeypatch):
    photos = {f'/{label}/{fn.name}': body(fn.read_bytes()) for label in ('grizzly', 'teddy') for fn in sorted((SAMPLE/label).iterdir())}
    from webclassifier.app import NONE_OF_THESE, flag_photo
    flag_photo(tmp_path/'flagged', 'mine.jpg', (SAMPLE/'black'/'00000016.jpg').read_bytes(), 'grizzly', {})  # a visitor's "Wrong?"
    flag_photo(tmp_path/'flagged', 'cat.jpg', (ROOT/'webclassifier'/'examples'/'cat.jpg').read_bytes(), NONE_OF_THESE, {})
    params = dict(labels=['grizzly', 'teddy'], suffix='', per_class=10, urls=str(tmp_path/'urls.csv'), allow_local=True, data=str(tmp_path/'data'),
                  arch='efficientnet_lite0', epochs=1, size=64, model=str(tmp_path/'models'/'export.pkl'), report=str(tmp_path/'report'),
                  more=str(tmp_path/'flagged'))
    flagged = files_under(tmp_path/'flagged')
    cache = tempfile.mkdtemp()  # an empty feature cache: every photo's features are computed in this run
    monkeypatch.setenv('WEBCLASSIFIER_CACHE', cache)
    notebook = counted(ROOT/'nbs'/'retrain.ipynb', tempfile.mkdtemp() + '/retrain.ipynb')
    before, start = files_under(ROOT), time.time()
    poll_shell_in_short_waits(monkeypatch.setattr)  # a reply whose wake-up is missed is read within 2 s, not after 600
    with ImageSite(photos) as site:
        with open(tmp_path/'urls.csv', 'w', newline='') as f:
            csv.writer(f).writerows([('label', 'url')] + [(path.split('/')[1], site.base + path) for path in photos])
        papermill.execute_notebook(notebook, tmp_path/'run.ipynb', parameters=params, cwd=ROOT/'nbs',
                                   kernel_name='python3', progress_bar=False, execution_timeout=600)
    print(f'retrain notebook ran in {time.time() - start:.0f} s; messages found only when a 2 s poll timed out: {len(missed_wakeups)}')
    shutil.rmtree(cache)

    # it wrote only into data, the model's folder and report
    assert files_under(ROOT) == before
    assert sorted(os.listdir(tmp_path)) == ['data', 'flagged', 'models', 'report', 'run.ipynb', 'urls.csv']
    assert files_under(tmp_path/'flagged') == flagged
    assert sorted(os.listdir(tmp_path/'models')) == ['export.cv.json', 'export.onnx', 'export.pkl', 'model_card.json', 'runs.csv']
    for fn in ['confusion_matrix.png', 'top_losses.png', 'class_metrics.csv']:  # the default recipe, the probe, has no epochs to plot
        assert (tmp_path/'report'/fn).stat().st_size > 0, fn
    card = json.loads((tmp_path/'models'/'model_card.json').read_text())
    assert (card['classes'], card['recipe'], card['arch'], card['size'], card['epochs']) == (['grizzly', 'teddy'], 'probe', 'efficientnet_lite0', 64, 0)
    assert not (tmp_path/'report'/'training_curves.png').exists()
    assert (card['unsure']['outside']['n'], card['unsure']['outside']['folder']) == (1, str(tmp_path/'flagged'/'_none_of_these'))

    # each step shows its result
    cells = {c.source.splitlines()[0]: c for c in nbformat.read(tmp_path/'run.ipynb', as_version=4).cells if c.cell_type == 'code'}
    assert 'grizzly: 9 ok, 0 duplicate, 0 error\nteddy: 9 ok, 0 duplicate, 0 error' in printed(cells['items = read_url_list(urls, labels) if urls else search_items(labels, per_class, suffix)'])
    assert 'grizzly: 1 ok, 0 duplicate, 0 error' in printed(cells['if more:'])
    assert '16 photos to train on, 3 to validate on' in printed(cells["stats = model_meta[arch_function(arch)]['stats']  # the mean and std the backbone was trained with"])
    lr_cell = cells["if recipe == 'probe': lr = None; print('the probe recipe trains no body: no learning rate to find')"]
    assert 'no learning rate to find' in printed(lr_cell) and not has_plot(lr_cell)  # lr_find only where a recipe trains the body
    assert 'probe: no epochs, so no curves' in printed(cells["if learn.history: plot_history(learn.history, f'{recipe}, {arch}, {size} px');"])
    interp_cell = cells['interp = learn.interp  # the predictions train_and_export judged the model on: no model runs here']
    assert sum('image/png' in o.get('data', {}) for o in interp_cell.outputs) == 2  # the confusion matrix and the top losses
    assert has_plot(cells['predictor = Predictor(learn)  # the model just exported, as the app runs it (not loaded again)'])  # where it looked
    # the cleaning the test chose in the widget: applied, logged, and trained on again
    chose = printed(cells['# added by the test: a person\'s choices in the cleaner\'s widget (its class and split menus, a photo\'s menu)'])
    deleted, relabelled = chose.split('chose: ')[1].split(' deleted, grizzly/')
    relabelled = relabelled.split(' relabelled')[0]
    assert '2 photo(s) moved: 1 to the trash, 1 relabelled' in printed(cells['moves = apply_cleaning(data, cleaner.deletions(), cleaner.relabels())'])
    assert [p.name for p in (tmp_path/'data'/'.trash').rglob('*') if p.is_file()] == [deleted.split('/')[1]]
    assert (tmp_path/'data'/'teddy'/relabelled).is_file() and not (tmp_path/'data'/'grizzly'/relabelled).exists()
    counts = {'grizzly': 10 - 1, 'teddy': 9 + 1}  # 9 downloaded each and 1 flagged grizzly; then one grizzly called teddy
    counts[deleted.split('/')[0]] -= 1
    assert {c: len(os.listdir(tmp_path/'data'/c)) for c in counts} == counts
    assert len(read_log(tmp_path/'data')) == 2  # each move logged: undo_cleaning can put them back
    assert len(read_runs(tmp_path/'models')) == 2 and card['unsure']['n_train'] == 18  # trained again, on the 19 photos less the deleted one
    assert f"sha256 {card['sha256'][:12]}" in printed(cells['card = learn.card'])
    assert f"not sure of {card['unsure']['outside']['flagged']} of the 1 photos of none of the classes" in printed(cells['card = learn.card'])
    # one forward pass per photo in the whole run: the 19 photos of the data and the 1 of none of the classes, each with
    # its mirror image, in the cross-validation, the final fit, its figures, the cleaner and the "not sure" check together;
    # and the ONNX twin's trace of a blank image
    assert 'body images before the heat maps: 41' in printed(cells["print(f'body images before the heat maps: {sum(body_images)}')"])
    # then the heat maps of the 6 top losses; the retraining after the cleaning, its photos' features all from the cache
    # (moved, not changed), but for the new twin's trace; and the app answering for one photo of each class, twice (printed, shown)
    assert printed(cells["print(f'body images in all: {sum(body_images)}')"]) == f'body images in all: {41 + 6 + 1 + 2 * 2}\n'
    answers = [line for line in printed(cells['app = ClassifierApp(predictor if not moves else Predictor.load(model))  # the model exported last']).splitlines() if '%' in line]
    assert sorted(a.split('/')[0] for a in answers) == ['grizzly', 'teddy'], answers  # one photo of each class, not the deleted one
    assert not any(deleted in a for a in answers), answers

def test_parameters_are_the_recipe_defaults():
    "The retrain notebook's parameters that are `Recipe` settings start at the Recipe's defaults (the shipped model's)"
    from webclassifier.train import Recipe
    [cell] = [c for c in nbformat.read(ROOT/'nbs'/'retrain.ipynb', as_version=4).cells if 'parameters' in c.metadata.get('tags', [])]
    params = {}
    exec(cell.source, {}, params)
    shared = ['recipe', 'arch', 'epochs', 'size', 'cv', 'class_means']  # its `per_class` is photos per class, not Recipe's
    assert {k: params[k] for k in shared} == {k: getattr(Recipe(), k) for k in shared}
