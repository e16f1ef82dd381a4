// The upload box's page side: `PhotoUpload` (nbs/08_app.ipynb) reads this file as its anywidget `_esm`.
export default { render({ model, el }) {
  const make = (tag, props) => Object.assign(document.createElement(tag), props);
  const files = make('input', { type: 'file', multiple: true, accept: 'image/*,.heic,.heif', hidden: true });
  const camera = make('input', { type: 'file', accept: 'image/*', hidden: true });
  camera.setAttribute('capture', 'environment');  // phones open the back camera; elsewhere it is a file dialog
  const choose = (className, text, input) => {
    const button = make('button', { type: 'button', className, textContent: text });
    button.onclick = () => input.click();
    return button;
  };
  const hint = make('span', { className: 'wc-hint', textContent: 'or drop photos anywhere here, or paste one (Ctrl+V)' });
  const progress = make('span', { className: 'wc-progress' });
  const said = make('div', { className: 'wc-said wc-sr-only' });  // the answers, for screen readers
  said.setAttribute('role', 'status'); said.setAttribute('aria-live', 'polite');
  model.on('change:announce', () => { said.textContent = model.get('announce'); });
  el.classList.add('wc-drop');
  el.append(choose('wc-upload', 'Upload photos', files), choose('wc-camera', 'Take a photo', camera), hint, files, camera, progress, said);

  let queue = Promise.resolve();  // photos from the button, the camera, a drop and a paste go in turn, one by one
  const answered = {};  // photo id -> what to call when the kernel has answered it
  model.on('msg:custom', msg => { const done = answered[msg?.answered]; delete answered[msg?.answered]; done?.(); });
  const heard = id => new Promise(resolve => {  // the next photo goes once the kernel answered this one (or after 2 minutes)
    answered[id] = resolve; setTimeout(resolve, 120000);
  });
  function sendFiles(list) {
    const photos = [...list];
    if (photos.length) queue = queue.then(() => sendAll(photos));
    return queue;
  }
  async function sendAll(photos) {
    for (const [i, file] of photos.entries()) {
      progress.textContent = `Sending ${i + 1} of ${photos.length}: ${file.name}`;
      await send(file, `${Date.now()}-${i}`);
    }
    progress.textContent = photos.length > 1 ? `Sent ${photos.length} photos` : '';
  }
  async function send(file, id) {
    if (file.size > model.get('max_bytes')) return model.send({ kind: 'refused', name: file.name, size: file.size });
    let bitmap = null;
    try { bitmap = await createImageBitmap(file); } catch (e) { }  // a format this browser can't decode
    if (bitmap === null) {  // send it as it is, for the kernel to decode (or to say why it can't)
      const data = await file.arrayBuffer(), size = model.get('chunk_bytes');
      const count = Math.max(1, Math.ceil(data.byteLength / size));
      const done = heard(id);
      for (let seq = 0; seq < count; seq++)
        model.send({ kind: 'chunk', name: file.name, id, seq, count }, undefined, [data.slice(seq * size, (seq + 1) * size)]);
      return done;
    }
    const scale = Math.min(1, model.get('max_side') / Math.max(bitmap.width, bitmap.height));
    const canvas = new OffscreenCanvas(Math.round(bitmap.width * scale), Math.round(bitmap.height * scale));
    const context = canvas.getContext('2d');
    context.fillStyle = '#fff';  // a transparent picture laid on white, as the page shows it and `rgb_image` reads a file
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    const jpeg = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.9 });
    const done = heard(id);
    model.send({ kind: 'photo', name: file.name, size: file.size, id }, undefined, [await jpeg.arrayBuffer()]);
    return done;
  }

  for (const input of [files, camera]) input.onchange = () => { const chosen = [...input.files]; input.value = ''; sendFiles(chosen); };
  const carriesFiles = e => [...(e.dataTransfer?.types || [])].includes('Files');
  const onDragOver = e => {  // anywhere on the page, so a photo dropped beside the box isn't opened by the browser instead
    if (!carriesFiles(e)) return;
    e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; el.classList.add('wc-dragging');
  };
  const onDragLeave = e => { if (e.relatedTarget === null) el.classList.remove('wc-dragging'); };
  const onDrop = e => {  // with the app shown twice, the first view takes it
    el.classList.remove('wc-dragging');
    if (e.defaultPrevented || !carriesFiles(e)) return;
    e.preventDefault(); sendFiles(e.dataTransfer.files);
  };
  const typing = e => e.target.closest?.('input, textarea, [contenteditable]:not([contenteditable="false"])');
  const onPaste = e => {  // anywhere but where one types (a notebook's cells, in JupyterLab)
    const pasted = [...(e.clipboardData?.files || [])];
    if (e.defaultPrevented || typing(e) || !pasted.length) return;
    e.preventDefault(); sendFiles(pasted);
  };
  const listeners = { dragover: onDragOver, dragleave: onDragLeave, drop: onDrop, paste: onPaste };
  for (const [type, listener] of Object.entries(listeners)) document.addEventListener(type, listener);
  return () => { for (const [type, listener] of Object.entries(listeners)) document.removeEventListener(type, listener); };
} };
