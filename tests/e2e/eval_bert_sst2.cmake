# `nnopt eval` on the small BERT trained on SST-2 reproduces PyTorch's dev F1
# (models/bert_sst2.json, 872 sentences) within 0.1 point; dynamic INT8 quantization
# loses at most 1 point of F1.
set(_model ${CMAKE_SOURCE_DIR}/models/bert_sst2.onnx)
set(_meta ${CMAKE_SOURCE_DIR}/models/bert_sst2.json)
set(_data ${CMAKE_SOURCE_DIR}/models/sst2_dev_tokens.npz)
if(EXISTS ${_model} AND EXISTS ${_meta} AND EXISTS ${_data})
  file(READ ${_meta} _json)
  string(JSON _f1 GET "${_json}" dev_f1)
  string(JSON _samples GET "${_json}" dev_samples)
  # dev_f1 is a fraction with up to 4 decimals: as a percentage.
  if(_f1 MATCHES "^0\\.([0-9])$")
    set(_pct "${CMAKE_MATCH_1}0.00")
  elseif(_f1 MATCHES "^0\\.([0-9][0-9])([0-9]?)([0-9]?)")
    set(_pct "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}${CMAKE_MATCH_3}")
  endif()
  set(_spec npz:${_data},inputs=input_ids+attention_mask,labels=labels)
  add_test(NAME e2e.eval_bert_sst2
    COMMAND nnopt eval ${_model} --data ${_spec} --metric f1 --expect ${_pct} --tolerance 0.1)
  set_tests_properties(e2e.eval_bert_sst2 PROPERTIES LABELS e2e TIMEOUT 900
    PASS_REGULAR_EXPRESSION "f1: [0-9.]+% \\(${_samples} samples\\).*OK")
  set(_q ${CMAKE_CURRENT_BINARY_DIR}/bert_sst2_dynamic.onnx)
  add_test(NAME e2e.quantize_bert_sst2_dynamic COMMAND nnopt quantize ${_model} -o ${_q} --dynamic)
  add_test(NAME e2e.eval_bert_sst2_dynamic
    COMMAND nnopt eval ${_q} --data ${_spec} --metric f1 --expect ${_pct} --tolerance 1.0)
  set_tests_properties(e2e.quantize_bert_sst2_dynamic PROPERTIES LABELS e2e
    FIXTURES_SETUP bert_dyn TIMEOUT 900)
  set_tests_properties(e2e.eval_bert_sst2_dynamic PROPERTIES LABELS e2e
    FIXTURES_REQUIRED bert_dyn TIMEOUT 900
    PASS_REGULAR_EXPRESSION "f1: [0-9.]+% \\(${_samples} samples\\).*OK")
  # Static INT8 with SmoothQuant (alpha 0.25), calibrated on the first 512 training
  # sentences (never the dev set): F1 within 1 point.
  set(_sst2 ${CMAKE_SOURCE_DIR}/../shared/data/sst2/train.tsv)
  if(EXISTS ${_sst2})
    set(_qs ${CMAKE_CURRENT_BINARY_DIR}/bert_sst2_static_sq.onnx)
    add_test(NAME e2e.quantize_bert_sst2_static_sq
      COMMAND nnopt quantize ${_model} -o ${_qs} --smooth-quant 0.25 --calib-size 512
              --calib tsv:${_sst2},vocab=${CMAKE_SOURCE_DIR}/models/bert_sst2.vocab.txt,seq=64)
    add_test(NAME e2e.eval_bert_sst2_static_sq
      COMMAND nnopt eval ${_qs} --data ${_spec} --metric f1 --expect ${_pct} --tolerance 1.0)
    set_tests_properties(e2e.quantize_bert_sst2_static_sq PROPERTIES LABELS e2e
      FIXTURES_SETUP bert_sq TIMEOUT 900)
    set_tests_properties(e2e.eval_bert_sst2_static_sq PROPERTIES LABELS e2e
      FIXTURES_REQUIRED bert_sq TIMEOUT 900
      PASS_REGULAR_EXPRESSION "f1: [0-9.]+% \\(${_samples} samples\\).*OK")
  endif()
else()
  message(STATUS "e2e.eval_bert_sst2 skipped: needs ${_model}, ${_meta} and ${_data}")
endif()
