"Shared fixtures: headless Chromium (Debian's), for the browser tests"
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from pathlib import Path
import pytest
from servers import ARTIFACTS

CHROMIUM = '/usr/bin/chromium'
FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run']

@pytest.fixture(scope='module')
def browser():
    from playwright.sync_api import sync_playwright
    assert Path(CHROMIUM).exists(), f'the browser tests need Debian chromium at {CHROMIUM}: tools/test.sh installs it'
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()

