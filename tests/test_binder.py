"""Binder builds from environment.yml, then postBuild installs the package with --no-deps: environment.yml must hold
every package the app needs on Binder, pinned as pyproject.toml pins it."""
import re, tomllib
from servers import ROOT

NOT_ON_BINDER = {'solara-server', 'solara-ui', 'solara-assets',  # the Solara server: Binder serves the app with Voila
                 'webclassifier'}  # the package itself (its extras), installed by postBuild

def requirement(line:str) -> tuple:
    "(name, specifier) of a requirement such as `voila>=0.5.13,<0.6` or `solara-server[starlette]==1.58.2`"
    m = re.match(r'\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*([^#;]*)', line)
    return m.group(1).lower().replace('_', '-'), m.group(3).strip().replace(' ', '')

def pyproject_requirements() -> dict:
    project = tomllib.loads((ROOT/'pyproject.toml').read_text())['project']
    lines = project['dependencies'] + project['optional-dependencies']['serve'] + project['optional-dependencies']['train']
    return dict(map(requirement, lines))

def binder_requirements() -> dict:
    "The pip packages of environment.yml (its conda ones are python and pip)"
    lines = [l.strip()[2:] for l in (ROOT/'environment.yml').read_text().splitlines() if l.strip().startswith('- ')]
    return dict(requirement(l) for l in lines if not l.startswith(('--', 'python=')) and l.strip() not in ('pip', 'pip:'))

def test_environment_pins_what_pyproject_pins():
    ours, binder = pyproject_requirements(), binder_requirements()
    different = {name: (spec, binder[name]) for name, spec in ours.items() if name in binder and spec and binder[name] != spec}
    assert different == {}, f'environment.yml pins differently from pyproject.toml: {different}'

def test_environment_has_what_the_no_deps_install_needs():
    with_fastai = {'numpy', 'fastcore', 'fastprogress'}  # fastai requires them, pinned as it needs
    assert set(pyproject_requirements()) - set(binder_requirements()) - NOT_ON_BINDER - with_fastai == set()

def test_requirement_reads_names_and_pins():
    assert requirement('voila>=0.5.13,<0.6') == ('voila', '>=0.5.13,<0.6')
    assert requirement('solara-server[starlette]==1.58.2') == ('solara-server', '==1.58.2')
    assert requirement('anywidget           # the app\'s clickable example thumbnails') == ('anywidget', '')

def test_binder_serves_the_notebook_the_package_serves():
    "Binder's Voila opens classifier_app.ipynb at the root; `webclassifier app` serves the package's app.ipynb: one notebook, two places"
    assert (ROOT/'classifier_app.ipynb').read_bytes() == (ROOT/'webclassifier'/'app.ipynb').read_bytes()
