"""The shipped model's figures checked, then `webclassifier evaluate` on photos it never saw: ../shared/data/bears-elsewhere.

    .venv/bin/python benchmarks/evaluate_shipped.py

1. Its own figures. A model fitted on every photo of its data (`refit`, the shipped probe) has no validation split: its
   card's `metrics` are the out-of-fold predictions of its cross-validation, which export.cv.json beside it keeps; they
   are recomputed from that file and must be the card's. A model fitted on a split: `webclassifier evaluate` on that
   split of the card's data set (data/bears-cleaned, rebuilt from ../shared in a temporary folder if missing, checked
   against the card's data_sha256; split by the card's seed, size and batch size) must measure the card's accuracy, on
   as many photos. Output: benchmarks/out/evaluate.txt (and benchmarks/out/evaluate_shipped/ for a split).
2. Photos from elsewhere: `webclassifier evaluate ../shared/data/bears-elsewhere --model export.pkl` (another scrape,
   never trained on), with its report in benchmarks/out/elsewhere/. Output: benchmarks/out/elsewhere.txt."""
import csv, json, subprocess, sys, tempfile
from pathlib import Path
from shipped import ROOT, shipped_card, card_data, valid_items, link_folder

CLI = Path(sys.executable).parent/'webclassifier'
ELSEWHERE = ROOT.parent/'shared'/'data'/'bears-elsewhere'

def out_of_fold_figures(card:dict) -> list:
    "The card's figures recomputed from the out-of-fold predictions in export.cv.json; they must be the card's"
    from webclassifier.cv import cv_accuracy, predicted
    from webclassifier.train import class_metrics, confusion_counts
    folds = json.loads((ROOT/'export.cv.json').read_text())
    assert (folds['data'], folds['vocab']) == (card['data'], card['classes']), 'export.cv.json is of another data set'
    right = cv_accuracy(folds)
    cm = confusion_counts([p['label'] for p in folds['photos']], predicted(folds['photos'], folds['vocab']), folds['vocab'])
    lines = [f"shipped model {card['tag']}: fitted on all {card['unsure']['n_train']} photos of {card['data']} after {folds['k']}-fold "
             f"cross-validation; its card's figures are the out-of-fold predictions ({card['metrics']['on']})",
             f"its card says: accuracy {card['metrics']['accuracy']:.2%} of {card['metrics']['n_valid']}; "
             f"export.cv.json: {right['accuracy']:.2%} of {right['n']} ({right['wrong']} wrong), "
             f"recall {', '.join(f'{c} {r:.1%}' for c, r in right['recall'].items())}",
             f"confusion (rows: actual, columns: predicted): " + '; '.join(f'{c} {list(map(int, row))}' for c, row in zip(folds['vocab'], cm))]
    assert (right['accuracy'], right['n']) == (card['metrics']['accuracy'], card['metrics']['n_valid']), "the out-of-fold accuracy is not the card's"
    assert class_metrics(cm, folds['vocab']) == card['metrics']['classes'], "the out-of-fold per-class figures are not the card's"
    return lines

def split_figures(card:dict) -> list:
    "`webclassifier evaluate` on the card's validation split: the accuracy must be the card's"
    data = card_data(card)
    valid = link_folder(valid_items(card, data), Path(tempfile.mkdtemp())/'valid')
    report = ROOT/'benchmarks'/'out'/'evaluate_shipped'
    res = subprocess.run([CLI, 'evaluate', valid, '--model', ROOT/'export.pkl', '--report', report], capture_output=True, text=True, check=True)
    with open(report/'predictions.csv', newline='') as f: rows = list(csv.DictReader(f))
    accuracy = round(sum(r['label'] == r['actual'] for r in rows)/len(rows), 4)
    lines = [f'shipped model {card["tag"]} on its validation split of {card["data"]} (data_sha256 {card["data_sha256"][:12]} checked; '
             f'seed {card["seed"]}, size {card["size"]}, bs {card["bs"]}): {len(rows)} photos',
             f'its card says: accuracy {card["metrics"]["accuracy"]:.1%} of {card["metrics"]["n_valid"]}; measured: {accuracy:.1%} of {len(rows)}',
             '', '$ webclassifier evaluate VALID --model export.pkl --report benchmarks/out/evaluate_shipped', res.stdout.strip()]
    assert (accuracy, len(rows)) == (card['metrics']['accuracy'], card['metrics']['n_valid']), 'the measured accuracy is not the card\'s'
    return lines

def main():
    card = shipped_card()
    lines = out_of_fold_figures(card) if card.get('refit') else split_figures(card)
    print('\n'.join(lines))
    (ROOT/'benchmarks'/'out'/'evaluate.txt').write_text('\n'.join(lines) + '\n')
    res = subprocess.run([CLI, 'evaluate', '../shared/data/bears-elsewhere', '--model', 'export.pkl', '--report', 'benchmarks/out/elsewhere'],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    with open(ROOT/'benchmarks'/'out'/'elsewhere'/'predictions.csv', newline='') as f: rows = list(csv.DictReader(f))
    sure = [r for r in rows if r['sure'] == 'True']
    lines = [f'{card["line"]}; never trained on {ELSEWHERE.resolve()}',
             '$ webclassifier evaluate ../shared/data/bears-elsewhere --model export.pkl --report benchmarks/out/elsewhere', res.stdout.strip(),
             f'"not sure" keeps {len(sure)} of the {len(rows)} photos ({len(sure)/len(rows):.1%}); accuracy {sum(r["label"] == r["actual"] for r in rows)/len(rows):.2%}']
    print('\n'.join(lines))
    (ROOT/'benchmarks'/'out'/'elsewhere.txt').write_text('\n'.join(lines) + '\n')

if __name__ == '__main__': main()
