# `nnopt eval` streams Silero VAD (npm @ricky0123/vad-web, fetched into the model cache
# by the peer setup) over the 20 espeak-ng clips of models/vad_eval in 512-sample
# chunks with 64 samples of context and the state carried, and reproduces the frame
# F1 ONNX Runtime gives in the same setting (models/vad_eval/meta.json) within 0.1.
set(_meta ${CMAKE_SOURCE_DIR}/models/vad_eval/meta.json)
set(_list ${CMAKE_SOURCE_DIR}/models/vad_eval/list.tsv)
if(EXISTS ${_meta} AND EXISTS ${_list})
  file(READ ${_meta} _json)
  string(JSON _f1 GET "${_json}" silero_v5_onnxruntime f1)
  string(REGEX REPLACE "^0\\.([0-9]*)$" "\\1" _digits "${_f1}")
  string(APPEND _digits "0000")
  string(SUBSTRING "${_digits}" 0 2 _int)
  string(SUBSTRING "${_digits}" 2 2 _frac)
  set(_cache $ENV{NNOPT_MODEL_CACHE})
  if(NOT _cache)
    set(_cache ${CMAKE_SOURCE_DIR}/models/cache)
  endif()
  add_test(NAME e2e.eval_silero_vad
    COMMAND nnopt eval ${_cache}/silero_vad/model.onnx --data wav:${_list},rate=16000
            --metric vad-f1 --chunk 512 --context 64 --state state=stateN --const sr=16000
            --expect ${_int}.${_frac} --tolerance 0.1)
  set_tests_properties(e2e.eval_silero_vad PROPERTIES LABELS e2e FIXTURES_REQUIRED peer_env
    TIMEOUT 600 PASS_REGULAR_EXPRESSION "vad-f1: [0-9.]+% \\(20 samples\\).*OK")
endif()
