"The notebooks' promise (nbs/index.ipynb): read in order, each uses only what the ones before it explain"
import ast, re
from servers import ROOT

def order() -> dict:
    "Each module's position, from the file name of the notebook that exports it (00_search, 02b_features, ...)"
    found = {}
    for nb in sorted((ROOT/'nbs').glob('[0-9]*.ipynb')):
        m = re.search(r'"#\| default_exp (\w+)', nb.read_text())
        if m: found[m.group(1)] = nb.stem
    return found

def test_no_module_uses_a_later_one():
    position, late = order(), []
    assert len(position) >= 15, position
    for module, notebook in position.items():
        tree = ast.parse((ROOT/'webclassifier'/f'{module}.py').read_text())
        used = {n.module.split('.')[-1] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
                and (n.level == 1 or n.module.startswith('webclassifier.'))}
        used |= {a.name.split('.')[1] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names if a.name.startswith('webclassifier.')}
        late += [f'{notebook} ({module}) uses {position[u]} ({u})' for u in sorted(used & position.keys())
                 if position[u] > notebook]
    assert not late, late
