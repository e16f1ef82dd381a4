"Phone photos: stored turned with an EXIF orientation tag, or as HEIC. Training, the app's path and predict see them upright"
import io
import numpy as np
from PIL import Image
from servers import SAMPLE
from webclassifier.images import read_image
from webclassifier.pipeline import train_and_export
from webclassifier.predict import Predictor, predict_named

def stripes(horizontal:bool, rng, size:int=64) -> Image.Image:
    "A photo of stripes across (horizontal) or up and down, with random period, phase, colours and noise"
    period, phase = rng.integers(6, 14), rng.integers(0, 14)
    line = ((np.arange(size) + phase) // (period // 2)) % 2
    mask = np.repeat(line[:, None], size, 1) if horizontal else np.repeat(line[None, :], size, 0)
    a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    pixels = np.where(mask[..., None] == 1, a, b) + rng.normal(0, 12, (size, size, 3))
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))

def save_as_phone(img:Image.Image, fn):
    "Save `img` as a phone does a portrait photo: the pixels turned a quarter, and EXIF orientation 6 saying to turn them back"
    exif = Image.Exif(); exif[0x0112] = 6
    img.transpose(Image.Transpose.ROTATE_90).save(fn, 'JPEG', quality=95, exif=exif)

def test_trained_on_turned_photos_predicts_upright_ones(tmp_path):
    rng = np.random.default_rng(0)
    for label, horizontal in [('across', True), ('updown', False)]:
        (tmp_path/'data'/label).mkdir(parents=True)
        for i in range(24): save_as_phone(stripes(horizontal, rng), tmp_path/'data'/label/f'{i}.jpg')
    assert Image.open(tmp_path/'data'/'across'/'0.jpg').getexif()[0x0112] == 6
    assert read_image(tmp_path/'data'/'across'/'0.jpg').size == (64, 64)
    train_and_export(tmp_path/'data', tmp_path/'export.pkl', arch='efficientnet_lite0', epochs=2, size=64, bs=8, cv=0,
                     log=lambda s: None, progress=False)
    upright = [(f'{label}-{i}.png', stripes(horizontal, rng)) for label, horizontal in [('across', True), ('updown', False)] for i in range(10)]
    def png(img): buf = io.BytesIO(); img.save(buf, 'PNG'); return buf.getvalue()
    results = predict_named(Predictor.load(tmp_path/'export.pkl'), [(name, png(img)) for name, img in upright])
    right = sum(r['label'] == r['file'].split('-')[0] for r in results)
    assert right >= 18, [(r['file'], r['label']) for r in results]  # a model trained on sideways pixels gets almost none right

def test_heic_photo_is_read():
    photo = read_image(SAMPLE/'grizzly'/'00000014.jpg')
    buf = io.BytesIO(); photo.save(buf, 'HEIF', quality=90)
    assert buf.getvalue()[4:12] == b'ftypheic'
    img = read_image(buf.getvalue(), 'IMG_0001.HEIC')
    assert img.size == photo.size and img.mode == 'RGB'
