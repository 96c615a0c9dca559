# `nnopt eval` on the trained U-Net segmentation fixture over its 500 held-out scenes
# reproduces the mIoU PyTorch measured (models/unet_seg.json) within 0.1 point.
set(_model ${CMAKE_SOURCE_DIR}/models/unet_seg.onnx)
set(_meta ${CMAKE_SOURCE_DIR}/models/unet_seg.json)
set(_data ${CMAKE_SOURCE_DIR}/models/seg_test.npz)
if(EXISTS ${_model} AND EXISTS ${_meta} AND EXISTS ${_data})
  file(READ ${_meta} _json)
  string(JSON _miou GET "${_json}" miou)
  string(JSON _samples GET "${_json}" test_samples)
  # miou is a fraction (0.5341, 0.512, 0.5): as a percentage with 2 decimals.
  string(REGEX REPLACE "^0\\.([0-9]*)$" "\\1" _digits "${_miou}")
  string(APPEND _digits "0000")
  string(SUBSTRING "${_digits}" 0 2 _int)
  string(SUBSTRING "${_digits}" 2 2 _frac)
  set(_pct "${_int}.${_frac}")
  add_test(NAME e2e.eval_unet_seg
    COMMAND nnopt eval ${_model} --data npz:${_data},inputs=input,labels=mask --metric miou
            --expect ${_pct} --tolerance 0.1)
  set_tests_properties(e2e.eval_unet_seg PROPERTIES LABELS e2e TIMEOUT 900
    PASS_REGULAR_EXPRESSION "miou: [0-9.]+% \\(${_samples} samples\\).*OK")
else()
  message(STATUS "e2e.eval_unet_seg skipped: needs ${_model}, ${_meta} and ${_data}")
endif()
