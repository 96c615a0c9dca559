# `nnopt eval` on the trained Fashion-MNIST MobileNetV2 fixture over the 10,000 test
# images reproduces the accuracy PyTorch measured (models/mobilenetv2_fmnist.json)
# within 0.1 point, with the preprocessing the training script used: pixel/255, pad 2
# with 0 to 32x32, (x - 0.2860) / 0.3530.
set(NNOPT_FMNIST_DIR /usr/share/datasets/fashion-mnist CACHE PATH
    "Fashion-MNIST IDX files (Debian dataset-fashion-mnist)")
set(_model ${CMAKE_SOURCE_DIR}/models/mobilenetv2_fmnist.onnx)
set(_meta ${CMAKE_SOURCE_DIR}/models/mobilenetv2_fmnist.json)
set(_images ${NNOPT_FMNIST_DIR}/t10k-images-idx3-ubyte.gz)
set(_labels ${NNOPT_FMNIST_DIR}/t10k-labels-idx1-ubyte.gz)
if(EXISTS ${_model} AND EXISTS ${_meta} AND EXISTS ${_images} AND EXISTS ${_labels})
  file(READ ${_meta} _json)
  string(JSON _correct GET "${_json}" test_correct)
  string(JSON _samples GET "${_json}" test_samples)
  math(EXPR _pct_x100 "(${_correct} * 10000 + ${_samples} / 2) / ${_samples}")
  math(EXPR _int "${_pct_x100} / 100")
  math(EXPR _frac "${_pct_x100} % 100")
  if(_frac LESS 10)
    set(_frac "0${_frac}")
  endif()
  add_test(NAME e2e.eval_mobilenetv2_fmnist
    COMMAND nnopt eval ${_model}
      --data idx:${_images},labels=${_labels},pad=2,mean=0.2860,std=0.3530
      --metric top1 --expect ${_int}.${_frac} --tolerance 0.1)
  set_tests_properties(e2e.eval_mobilenetv2_fmnist PROPERTIES LABELS e2e
    PASS_REGULAR_EXPRESSION "top1: [0-9.]+% \\(${_samples} samples\\).*OK")
else()
  message(STATUS "e2e.eval_mobilenetv2_fmnist skipped: needs ${_model}, ${_meta} and ${_images}")
endif()
