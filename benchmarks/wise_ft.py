"""WiSE-FT (Wortsman et al. 2022, "Robust fine-tuning of zero-shot models") tried for issue 30's 95 % elsewhere: the
weights of the probe and of the same probe fine-tuned (LP-FT), averaged.

    .venv/bin/python benchmarks/wise_ft.py     -> benchmarks/out/wise_ft.txt (about 2 minutes)

On the card's data and split: the probe recipe (pretrained EfficientNet-Lite0 body, its head fitted on the 80 % split)
and `--recipe probe-finetune` with 2 epochs, as benchmarks/recipes.py runs it (LP-FT: every layer fine-tuned from that
probe). Each weight, and each batch-norm statistic, is (1 - alpha) x the probe's + alpha x the fine-tuned one's; the
averaged model is scored on the 20 % validation split and on the 448 photos of ../shared/data/bears-elsewhere (never
trained on). alpha 0 is the probe, 1 is LP-FT. Not cross-validated: each fold would fine-tune again."""
import sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import numpy as np, torch
from final_fit import ELSEWHERE
from shipped import shipped_card, card_data, output_file
from webclassifier.data import readable_images
from webclassifier.train import train_classifier

def averaged(probe:dict, tuned:dict, alpha:float) -> dict:
    "The state dict (1 - `alpha`) x `probe` + `alpha` x `tuned` (counters, which are integers, from the nearer one)"
    return {k: torch.lerp(v.float(), tuned[k].float(), alpha).to(v.dtype) if v.is_floating_point() else (tuned[k] if alpha >= .5 else v)
            for k, v in probe.items()}

def right(learn, items:list) -> np.ndarray:
    "Whether `learn`'s answer for each of `items` is its folder's name"
    with torch.inference_mode():
        out = torch.cat([learn.model(xb.as_subclass(torch.Tensor)).argmax(1) for xb, in learn.dls.test_dl(items, bs=16, num_workers=0)])
    return np.array(learn.dls.vocab)[out.numpy()] == np.array([f.parent.name for f in items])

def main():
    card = shipped_card()
    print(card['line'])
    data = card_data(card)
    start = time.time()
    settings = dict(arch=card['arch'], size=card['size'], seed=card['seed'], progress=False, log=lambda s: None)
    probe = train_classifier(data, recipe='probe', **settings)
    tuned = train_classifier(data, recipe='probe-finetune', epochs=2, **settings)  # Recipe.bs, as recipes.py
    print(f'the probe and LP-FT (2 epochs) on {card["data"]}, trained in {time.time() - start:.0f} s')
    elsewhere, valid = readable_images(ELSEWHERE, log=lambda s: None), list(probe.dls.valid_ds.items)
    weights = [{k: v.clone() for k, v in l.model.state_dict().items()} for l in (probe, tuned)]
    probe.model.eval()
    print(f'alpha | validation split ({len(valid)}) | elsewhere ({len(elsewhere)})')
    for alpha in (0, .25, .5, .75, 1):
        probe.model.load_state_dict(averaged(*weights, alpha))
        v, e = right(probe, valid), right(probe, elsewhere)
        print(f'{alpha:<5g} | {v.mean():.2%} ({(~v).sum()} wrong)         | {e.mean():.2%} ({(~e).sum()} wrong)', flush=True)

if __name__ == '__main__':
    with output_file('wise_ft.txt'): main()
