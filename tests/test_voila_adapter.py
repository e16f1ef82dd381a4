"""What `webclassifier.serve.VisitorLimitedKernelManager` relies on in Voila beyond its documented settings, checked on
the installed Voila: if one of these fails after an upgrade, the visitor limit or the stale-model rule no longer applies
to preheated kernels (the app would still serve). Voila is pinned to the minor version these were read in."""
import inspect, tomllib
from importlib.metadata import version
from packaging.requirements import Requirement
from voila.handler import VoilaHandler
from voila.utils import ENV_VARIABLE
from voila.voila_kernel_manager import voila_kernel_manager_factory
from servers import ROOT
from webclassifier.serve import VisitorLimitedKernelManager

PIN = 'voila>=0.5.13,<0.6'  # pyproject.toml's, in the `serve` extra
PREHEATING = voila_kernel_manager_factory(VisitorLimitedKernelManager, preheat_kernel=True, default_pool_size=1)

def voila_method(name):
    "The method `name` as Voila's preheating class defines it (under the adapter, for `get_rendered_notebook`)"
    method = vars(PREHEATING)[name]
    return method.args[0] if name == 'get_rendered_notebook' else method

def test_voila_is_the_pinned_minor_version():
    extras = tomllib.loads((ROOT/'pyproject.toml').read_text())['project']['optional-dependencies']['serve']
    assert PIN in extras, f'pyproject.toml should pin {PIN!r} (the Voila this adapter was written for): {extras}'
    assert Requirement(PIN).specifier.contains(version('voila')), f'voila {version("voila")} installed, not {PIN}'

def test_hand_outs_of_preheated_kernels_go_through_the_adapter():
    "Voila's preheating class subclasses the kernel manager and defines `get_rendered_notebook`, without calling ours"
    adapted = vars(PREHEATING).get('get_rendered_notebook')
    assert adapted is not None and adapted.func is VisitorLimitedKernelManager.hand_out, adapted
    voila_hand_out = voila_method('get_rendered_notebook')
    assert voila_hand_out.__qualname__.endswith('VoilaKernelManager.get_rendered_notebook'), voila_hand_out.__qualname__
    assert inspect.iscoroutinefunction(voila_hand_out)
    assert list(inspect.signature(voila_hand_out).parameters)[:2] == ['self', 'notebook_name']
    assert 'return render_task, renderer.rendered_cache, kernel_id' in inspect.getsource(voila_hand_out)

def test_the_pool_methods_the_adapter_calls():
    assert list(inspect.signature(voila_method('get_pool_size')).parameters) == ['self', 'notebook_name']
    assert {'delay', 'notebook_name'} <= set(inspect.signature(voila_method('fill_if_needed')).parameters)
    shutdown = inspect.getsource(voila_method('shutdown_kernel'))
    assert 'pool.pop(i)' in shutdown and 'super().shutdown_kernel(' in shutdown  # takes the kernel out of the pool first

def test_preheated_kernels_are_started_through_our_start_kernel_and_marked():
    assert ENV_VARIABLE.VOILA_PREHEAT == 'VOILA_PREHEAT'
    assert 'kernel_env[ENV_VARIABLE.VOILA_PREHEAT] = "True"' in inspect.getsource(voila_method('fill_if_needed'))
    assert 'super().start_kernel(' in inspect.getsource(voila_method('_initialize'))

def test_voila_asks_the_pool_size_before_a_hand_out():
    "Voila's page handler: a preheated kernel only if `get_pool_size` says there is one, then `get_rendered_notebook`"
    source = inspect.getsource(VoilaHandler.get_generator)
    assert 0 < source.index('kernel_manager.get_pool_size(') < source.index('kernel_manager.get_rendered_notebook('), source
