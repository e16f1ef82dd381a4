"""`webclassifier evaluate` on the shipped model and its own validation split: the card's data set (data/bears-cleaned, rebuilt
from ../shared in a temporary folder if missing, checked against the card's data_sha256), split by the card's seed, size and
batch size. The accuracy it measures must be the card's (`metrics`), on as many photos. Output: benchmarks/out/evaluate.txt and
benchmarks/out/evaluate_shipped/ (confusion matrix, per-class metrics, every answer).
Usage: .venv/bin/python benchmarks/evaluate_shipped.py"""
import csv, subprocess, sys, tempfile
from pathlib import Path
from shipped import ROOT, shipped_card, card_data, valid_items, link_folder

def main():
    card = shipped_card()
    data = card_data(card)
    valid = link_folder(valid_items(card, data), Path(tempfile.mkdtemp())/'valid')
    report = ROOT/'benchmarks'/'out'/'evaluate_shipped'
    cli = Path(sys.executable).parent/'webclassifier'
    res = subprocess.run([cli, 'evaluate', valid, '--model', ROOT/'export.pkl', '--report', report], capture_output=True, text=True, check=True)
    with open(report/'predictions.csv', newline='') as f: rows = list(csv.DictReader(f))
    accuracy = round(sum(r['label'] == r['actual'] for r in rows)/len(rows), 4)
    lines = [f'shipped model {card["tag"]} on its validation split of {card["data"]} (data_sha256 {card["data_sha256"][:12]} checked; '
             f'seed {card["seed"]}, size {card["size"]}, bs {card["bs"]}): {len(rows)} photos',
             f'its card says: accuracy {card["metrics"]["accuracy"]:.1%} of {card["metrics"]["n_valid"]}; measured: {accuracy:.1%} of {len(rows)}',
             '', '$ webclassifier evaluate VALID --model export.pkl --report benchmarks/out/evaluate_shipped', res.stdout.strip()]
    print('\n'.join(lines))
    assert (accuracy, len(rows)) == (card['metrics']['accuracy'], card['metrics']['n_valid']), 'the measured accuracy is not the card\'s'
    (ROOT/'benchmarks'/'out'/'evaluate.txt').write_text('\n'.join(lines) + '\n')

if __name__ == '__main__': main()
