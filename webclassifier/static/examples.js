// The example photos' page side: `ExamplePicker` (nbs/08_app.ipynb) reads this file as its anywidget `_esm`.
export default { render({ model, el }) {
  el.classList.add('wc-examples'); el.setAttribute('role', 'group'); el.setAttribute('aria-label', 'Example photos');
  for (const ex of model.get('examples')) {
    const button = Object.assign(document.createElement('button'), { type: 'button', className: 'wc-example', title: `Try the example photo ${ex.name}` });
    button.dataset.name = ex.name; button.setAttribute('aria-label', `Example: ${ex.label}`);
    const img = Object.assign(document.createElement('img'), { src: `data:image/jpeg;base64,${ex.thumbnail}`, alt: `Example photo ${ex.name}`,
                                                               width: ex.width, height: ex.height });
    const caption = Object.assign(document.createElement('span'), { textContent: ex.label });
    button.append(img, caption);
    button.onclick = () => model.send({ pick: ex.name });
    el.appendChild(button);
  }
} };
