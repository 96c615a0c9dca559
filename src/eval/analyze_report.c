/*
 * analyze_report.c - the analysis as a terminal table, JSON, and a self-contained
 * HTML report (the data inline as JSON, plots drawn as SVG by an inline script: no
 * network, no external file).
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
#include "eval/analyze.h"

static const char *yesno(int v) { return v ? "yes" : "no"; }

static int cmp_rank(const void *a, const void *b) {
  const nn_an_layer *const *x = a, *const *y = b;
  return (*x)->rank - (*y)->rank;
}

void nn_analysis_print(const nn_analysis *a, FILE *f) {
  fprintf(f, "== 1. Calibration representativeness (%lld calibration samples, %lld "
             "evaluation samples)\n",
          (long long)a->calib_samples, (long long)a->eval_samples);
  fprintf(f, "%-40s %10s %10s %9s %9s %7s %7s  %s\n", "quantized tensor", "lo", "hi",
          "calib clip", "eval clip", "JS", "extent", "flag");
  int shown = 0;
  for (int pass = 0; pass < 2; pass++)
    for (int k = 0; k < a->n_tensors && shown < 12; k++) {
      const nn_an_tensor *t = &a->tensors[k];
      if (t->flagged != !pass) continue;
      fprintf(f, "%-40.40s %10.4g %10.4g %8.4f%% %8.4f%% %7.4f %7.3f  %s\n", t->name, t->lo,
              t->hi, t->calib_clip * 100, t->eval_clip * 100, t->js, t->extent_ratio,
              t->flagged ? "FLAG" : "");
      shown++;
    }
  if (a->n_tensors > shown)
    fprintf(f, "... %d more tensors (all in --json / --html)\n", a->n_tensors - shown);
  if (a->n_classes) {
    fprintf(f, "per class: ");
    for (int k = 0; k < a->n_classes; k++)
      fprintf(f, "%s%lld: calib %lld, eval %lld, clip %.3f%%", k ? "; " : "",
              (long long)a->classes[k].label, (long long)a->classes[k].calib_samples,
              (long long)a->classes[k].eval_samples, a->classes[k].eval_clip * 100);
    fprintf(f, "\n");
  }
  if (a->n_worst) {
    fprintf(f, "eval samples furthest outside the calibrated ranges:");
    for (int k = 0; k < a->n_worst && k < 5; k++)
      fprintf(f, " #%lld (label %lld, %.1f%% clipped)", (long long)a->worst[k].index,
              (long long)a->worst[k].label, a->worst[k].score * 100);
    fprintf(f, "\n");
  }
  fprintf(f, "representative: %s; ranges converged: %s\n%s\n\n", yesno(a->representative),
          yesno(a->ranges_converged), a->calib_advice ? a->calib_advice : "");

  if (!a->n_layers && !a->n_candidates) {
    fprintf(f, "== Verdict\n%s\n", a->verdict ? a->verdict : "");
    return;
  }
  fprintf(f, "== 2-3. Per-layer error and sensitivity (%lld samples; %s float %.2f%%, int8 "
             "%.2f%%, int8 output SQNR %.1f dB)\n",
          (long long)a->sens_samples, a->metric, a->float_sens_metric * 100,
          a->int8_sens_metric * 100, a->int8_out_sqnr);
  fprintf(f, "%4s %-36s %-17s %6s %8s %8s %8s %9s %9s %9s %5s\n", "rank", "layer", "op",
          "MACs%", "SQNR", "local", "cosine", "only-this", "all-but", "out SQNR", "float");
  const nn_an_layer **by = malloc(((size_t)a->n_layers + 1) * sizeof *by);
  int64_t macs = 0;
  for (int l = 0; l < a->n_layers; l++) macs += a->layers[l].macs;
  if (by) {
    for (int l = 0; l < a->n_layers; l++) by[l] = &a->layers[l];
    qsort(by, (size_t)a->n_layers, sizeof *by, cmp_rank);
    for (int l = 0; l < a->n_layers && l < 20; l++) {
      const nn_an_layer *L = by[l];
      fprintf(f, "%4d %-36.36s %-17.17s %6.2f %8.1f %8.1f %8.5f %8.2f%% %8.2f%% %9.1f %5s\n",
              L->rank, L->name, L->op, macs ? 100.0 * (double)L->macs / (double)macs : 0,
              L->sqnr, L->local_sqnr, L->cosine, L->only_metric * 100, L->allbut_metric * 100,
              L->only_out_sqnr, L->kept_float ? "yes" : "");
    }
    if (a->n_layers > 20) fprintf(f, "... %d more layers\n", a->n_layers - 20);
    free(by);
  }
  fprintf(f, "(SQNR: all layers quantized, dB; local: only this layer quantized; only-this /"
             " all-but: %s with only this layer / all but this layer quantized)\n\n",
          a->metric);

  fprintf(f, "== 4. Candidates (budget: drop <= %.2f points, at most %.0f%% of layers in "
             "float)\n",
          a->max_drop, a->max_float_share * 100);
  fprintf(f, "%-26s %7s %7s %9s %7s %11s %10s %s\n", "model", "float%", "MACs%", a->metric,
          "drop", "size", "latency", "meets");
  double base = a->n_candidates ? a->candidates[0].metric : 0;
  for (int k = 0; k < a->n_candidates; k++) {
    const nn_an_candidate *c = &a->candidates[k];
    fprintf(f, "%-26s %6.1f%% %6.1f%% %8.2f%% %7.2f %8.2f MB %7.3f ms %s%s\n", c->label,
            c->float_share * 100, c->macs_share * 100, c->metric * 100,
            (base - c->metric) * 100, (double)c->bytes / 1e6, c->latency_ms,
            yesno(c->meets), k == a->chosen ? "  <- chosen" : "");
  }
  fprintf(f, "(%lld evaluation samples; latency: median of 30 single-thread runs)\n\n",
          (long long)a->eval_samples);
  fprintf(f, "== 5. Verdict\n%s\n", a->verdict ? a->verdict : "");
}

static cJSON *analysis_json(const nn_analysis *a) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "model", a->model ? a->model : "");
  cJSON_AddStringToObject(root, "metric", a->metric ? a->metric : "");
  cJSON_AddNumberToObject(root, "calib_samples", (double)a->calib_samples);
  cJSON_AddNumberToObject(root, "eval_samples", (double)a->eval_samples);
  cJSON_AddNumberToObject(root, "sensitivity_samples", (double)a->sens_samples);
  cJSON *cal = cJSON_AddObjectToObject(root, "calibration");
  cJSON_AddBoolToObject(cal, "representative", a->representative);
  cJSON_AddBoolToObject(cal, "ranges_converged", a->ranges_converged);
  cJSON_AddNumberToObject(cal, "flagged_tensors", a->n_flagged);
  cJSON_AddNumberToObject(cal, "outside_samples", (double)a->outside_samples);
  cJSON_AddStringToObject(cal, "advice", a->calib_advice ? a->calib_advice : "");
  cJSON *ts = cJSON_AddArrayToObject(cal, "tensors");
  for (int k = 0; k < a->n_tensors; k++) {
    const nn_an_tensor *t = &a->tensors[k];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddNumberToObject(o, "lo", t->lo);
    cJSON_AddNumberToObject(o, "hi", t->hi);
    cJSON_AddNumberToObject(o, "calib_clip", t->calib_clip);
    cJSON_AddNumberToObject(o, "eval_clip", t->eval_clip);
    cJSON_AddNumberToObject(o, "js_bits", t->js);
    cJSON_AddNumberToObject(o, "extent_ratio", t->extent_ratio);
    cJSON_AddNumberToObject(o, "calib_drift", t->calib_drift);
    cJSON_AddBoolToObject(o, "flagged", t->flagged);
    cJSON_AddItemToArray(ts, o);
  }
  cJSON *ws = cJSON_AddArrayToObject(cal, "worst_samples");
  for (int k = 0; k < a->n_worst; k++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", (double)a->worst[k].index);
    cJSON_AddNumberToObject(o, "label", (double)a->worst[k].label);
    cJSON_AddNumberToObject(o, "max_clip", a->worst[k].score);
    cJSON_AddNumberToObject(o, "tensors_over_1pct", a->worst[k].tensors);
    cJSON_AddItemToArray(ws, o);
  }
  cJSON *cs = cJSON_AddArrayToObject(cal, "classes");
  for (int k = 0; k < a->n_classes; k++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "label", (double)a->classes[k].label);
    cJSON_AddNumberToObject(o, "calib_samples", (double)a->classes[k].calib_samples);
    cJSON_AddNumberToObject(o, "eval_samples", (double)a->classes[k].eval_samples);
    cJSON_AddNumberToObject(o, "eval_clip", a->classes[k].eval_clip);
    cJSON_AddItemToArray(cs, o);
  }
  cJSON *ly = cJSON_AddObjectToObject(root, "layers");
  cJSON_AddNumberToObject(ly, "float_metric", a->float_sens_metric);
  cJSON_AddNumberToObject(ly, "int8_metric", a->int8_sens_metric);
  cJSON_AddNumberToObject(ly, "int8_output_sqnr_db", a->int8_out_sqnr);
  cJSON *ls = cJSON_AddArrayToObject(ly, "layers");
  for (int l = 0; l < a->n_layers; l++) {
    const nn_an_layer *L = &a->layers[l];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", L->name);
    cJSON_AddStringToObject(o, "op", L->op);
    cJSON_AddStringToObject(o, "output", L->out_name);
    cJSON_AddNumberToObject(o, "macs", (double)L->macs);
    cJSON_AddNumberToObject(o, "float_ms", L->float_ms);
    cJSON_AddNumberToObject(o, "sqnr_db", L->sqnr);
    cJSON_AddNumberToObject(o, "cosine", L->cosine);
    cJSON_AddNumberToObject(o, "max_error", L->max_err);
    cJSON_AddNumberToObject(o, "local_sqnr_db", L->local_sqnr);
    cJSON_AddNumberToObject(o, "local_cosine", L->local_cosine);
    cJSON_AddNumberToObject(o, "only_this_metric", L->only_metric);
    cJSON_AddNumberToObject(o, "only_this_output_sqnr_db", L->only_out_sqnr);
    cJSON_AddNumberToObject(o, "all_but_this_metric", L->allbut_metric);
    cJSON_AddNumberToObject(o, "all_but_this_output_sqnr_db", L->allbut_out_sqnr);
    cJSON_AddNumberToObject(o, "score", L->score);
    cJSON_AddNumberToObject(o, "rank", L->rank);
    cJSON_AddBoolToObject(o, "kept_float", L->kept_float);
    cJSON_AddItemToArray(ls, o);
  }
  cJSON *mp = cJSON_AddObjectToObject(root, "mixed_precision");
  cJSON_AddNumberToObject(mp, "max_drop_points", a->max_drop);
  cJSON_AddNumberToObject(mp, "max_float_share", a->max_float_share);
  cJSON_AddNumberToObject(mp, "chosen", a->chosen);
  cJSON *cands = cJSON_AddArrayToObject(mp, "candidates");
  for (int k = 0; k < a->n_candidates; k++) {
    const nn_an_candidate *c = &a->candidates[k];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "label", c->label);
    cJSON_AddNumberToObject(o, "float_layers", c->n_float);
    cJSON_AddNumberToObject(o, "float_share", c->float_share);
    cJSON_AddNumberToObject(o, "macs_share", c->macs_share);
    cJSON_AddNumberToObject(o, "metric", c->metric);
    cJSON_AddNumberToObject(o, "samples", (double)c->samples);
    cJSON_AddNumberToObject(o, "bytes", (double)c->bytes);
    cJSON_AddNumberToObject(o, "latency_ms", c->latency_ms);
    cJSON_AddBoolToObject(o, "meets", c->meets);
    cJSON_AddItemToArray(cands, o);
  }
  cJSON_AddBoolToObject(root, "recommend_qat", a->recommend_qat);
  cJSON_AddStringToObject(root, "verdict", a->verdict ? a->verdict : "");
  return root;
}

static nn_status write_text(const char *path, const char *text) {
  return nn_write_file_atomic(path, text, strlen(text), NULL, 0);
}

nn_status nn_analysis_write_json(const nn_analysis *a, const char *path) {
  cJSON *j = analysis_json(a);
  char *s = j ? cJSON_Print(j) : NULL;
  cJSON_Delete(j);
  if (!s) return nn_errorf(NN_ERR_NOMEM, "out of memory writing %s", path);
  size_t n = strlen(s);
  char *t = malloc(n + 2);
  nn_status st;
  if (!t) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory writing %s", path);
  } else {
    memcpy(t, s, n);
    t[n] = '\n';
    t[n + 1] = 0;
    st = write_text(path, t);
  }
  free(t);
  cJSON_free(s);
  return st;
}

/* The page: data as JSON in a script element, drawn by the script below. */
static const char k_html_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>nnopt analyze</title>\n<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}\n"
    "h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}\n"
    "table{border-collapse:collapse;font-size:12px;margin:8px 0}\n"
    "td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}\n"
    "td:first-child,th:first-child{text-align:left}\n"
    ".flag{color:#b00;font-weight:bold}.ok{color:#070}.verdict{background:#f4f4f4;"
    "padding:10px;border-left:4px solid #36c}\n"
    "svg{background:#fcfcfc;border:1px solid #eee;margin:6px 0}\n"
    "</style></head><body>\n<h1>nnopt analyze</h1>\n<div id=\"summary\"></div>\n"
    "<h2>1. Calibration representativeness</h2><p id=\"advice\"></p>\n"
    "<h3>Eval values clipped by the calibrated range, per quantized tensor</h3>\n"
    "<svg id=\"plot-clip\" width=\"1100\" height=\"260\"></svg>\n<div id=\"classes\"></div>\n"
    "<h2>2. Per-layer error (SQNR, dB; all layers quantized vs only this layer)</h2>\n"
    "<svg id=\"plot-sqnr\" width=\"1100\" height=\"280\"></svg>\n"
    "<h2>3. Sensitivity ranking (output noise added by the layer)</h2>\n"
    "<svg id=\"plot-sens\" width=\"1100\" height=\"300\"></svg>\n<div id=\"layers\"></div>\n"
    "<h2>4. Candidates: accuracy vs latency (area: model size)</h2>\n"
    "<svg id=\"plot-cand\" width=\"700\" height=\"360\"></svg>\n<div id=\"cands\"></div>\n"
    "<h2>5. Verdict</h2><p class=\"verdict\" id=\"verdict\"></p>\n"
    "<script type=\"application/json\" id=\"data\">";

static const char k_html_tail[] =
    "</script>\n<script>\n"
    "'use strict';\n"
    "const D=JSON.parse(document.getElementById('data').textContent);\n"
    "const NS='http://www.w3.org/2000/svg';\n"
    "function el(p,tag,attrs,text){const e=document.createElementNS(NS,tag);"
    "for(const k in attrs)e.setAttribute(k,attrs[k]);if(text!==undefined)e.textContent=text;"
    "p.appendChild(e);return e;}\n"
    "function esc(s){return String(s).replace(/[&<>\"]/g,c=>({'&':'&amp;','<':'&lt;',"
    "'>':'&gt;','\"':'&quot;'}[c]));}\n"
    "function pct(v){return (100*v).toFixed(2)+'%';}\n"
    /* Bar chart: values v (one mark per value), optional second series as ticks. */
    "function bars(id,vals,labels,opt){const svg=document.getElementById(id);"
    "const W=+svg.getAttribute('width'),H=+svg.getAttribute('height');const L=60,B=30,T=14;"
    "const n=vals.length;if(!n)return;let lo=Math.min(0,...vals,...(opt.second||[]));"
    "let hi=Math.max(...vals,...(opt.second||[]));if(hi<=lo)hi=lo+1;"
    "const y=v=>T+(H-T-B)*(1-(v-lo)/(hi-lo));const bw=(W-L-10)/n;"
    "el(svg,'line',{x1:L,x2:W-5,y1:y(0),y2:y(0),stroke:'#999'});"
    "for(let k=0;k<=4;k++){const v=lo+(hi-lo)*k/4;el(svg,'text',{x:L-4,y:y(v)+4,"
    "'text-anchor':'end','font-size':10},v.toPrecision(3));}"
    "el(svg,'text',{x:L,y:10,'font-size':11},opt.title||'');"
    "vals.forEach((v,i)=>{const r=el(svg,'rect',{class:'mark '+opt.cls,x:L+i*bw+1,"
    "y:Math.min(y(v),y(0)),width:Math.max(1,bw-2),height:Math.abs(y(v)-y(0)),"
    "fill:(opt.color&&opt.color(i))||'#4a7bd0'});el(r,'title',{},labels[i]+': '+v.toPrecision(4));});"
    "(opt.second||[]).forEach((v,i)=>{el(svg,'line',{class:'tick '+opt.cls,x1:L+i*bw,"
    "x2:L+(i+1)*bw,y1:y(v),y2:y(v),stroke:'#d33','stroke-width':2});});"
    "if(n<=40)labels.forEach((s,i)=>{el(svg,'text',{x:L+i*bw+bw/2,y:H-B+12,'font-size':8,"
    "'text-anchor':'middle'},String(s).slice(-8));});}\n"
    "const C=D.calibration,Ls=D.layers.layers,M=D.mixed_precision;\n"
    "document.getElementById('summary').innerHTML='<p>Model <b>'+esc(D.model)+'</b>, metric '"
    "+esc(D.metric)+'; '+D.calib_samples+' calibration samples, '+D.eval_samples+"
    "' evaluation samples ('+D.sensitivity_samples+' for per-layer error and sensitivity).</p>';\n"
    "document.getElementById('advice').innerHTML=(C.representative?'<span class=ok>"
    "Representative.</span> ':'<span class=flag>Not representative.</span> ')+esc(C.advice);\n"
    "bars('plot-clip',C.tensors.map(t=>100*t.eval_clip),C.tensors.map(t=>t.name),"
    "{cls:'mark-clip',second:C.tensors.map(t=>100*t.calib_clip),title:'% of eval values "
    "clipped (bars) vs % of calibration values clipped (red ticks)',color:i=>C.tensors[i]."
    "flagged?'#d55':'#4a7bd0'});\n"
    "if(C.classes.length){let h='<table><tr><th>class</th><th>calibration samples</th><th>"
    "eval samples</th><th>mean eval clip</th></tr>';C.classes.forEach(c=>{h+='<tr><td>'+"
    "c.label+'</td><td>'+c.calib_samples+'</td><td>'+c.eval_samples+'</td><td>'+pct(c."
    "eval_clip)+'</td></tr>';});document.getElementById('classes').innerHTML=h+'</table>';}\n"
    "bars('plot-sqnr',Ls.map(l=>l.sqnr_db),Ls.map(l=>l.name),{cls:'mark-sqnr',second:Ls.map("
    "l=>Math.min(l.local_sqnr_db,99)),title:'SQNR with all layers quantized (bars), only this "
    "layer quantized (red ticks), graph order'});\n"
    "const byRank=Ls.slice().sort((a,b)=>a.rank-b.rank);\n"
    "bars('plot-sens',byRank.map(l=>10*Math.log10(Math.max(l.score,1e-12))+120),byRank.map(l=>"
    "l.name),{cls:'mark-sens',title:'sensitivity score (dB + 120), most sensitive first; red: "
    "kept in float',color:i=>byRank[i].kept_float?'#d55':'#4a7bd0'});\n"
    "{let h='<table><tr><th>layer</th><th>op</th><th>rank</th><th>SQNR dB</th><th>local "
    "SQNR</th><th>cosine</th><th>only this</th><th>all but this</th><th>float</th></tr>';"
    "byRank.forEach(l=>{h+='<tr><td>'+esc(l.name)+'</td><td>'+esc(l.op)+'</td><td>'+l.rank+"
    "'</td><td>'+l.sqnr_db.toFixed(1)+'</td><td>'+l.local_sqnr_db.toFixed(1)+'</td><td>'+l."
    "cosine.toFixed(5)+'</td><td>'+pct(l.only_this_metric)+'</td><td>'+pct(l.all_but_this_"
    "metric)+'</td><td>'+(l.kept_float?'yes':'')+'</td></tr>';});"
    "document.getElementById('layers').innerHTML=h+'</table>';}\n"
    "{const svg=document.getElementById('plot-cand');const W=+svg.getAttribute('width'),"
    "H=+svg.getAttribute('height');const P=60;const cs=M.candidates;if(cs.length){"
    "const xs=cs.map(c=>c.latency_ms),ys=cs.map(c=>100*c.metric),ss=cs.map(c=>c.bytes);"
    "let x0=Math.min(...xs)*0.9,x1=Math.max(...xs)*1.1,y0=Math.min(...ys)-0.5,y1=Math.max(..."
    "ys)+0.5;const X=v=>P+(W-2*P)*(v-x0)/(x1-x0||1),Y=v=>H-P+(-(H-2*P))*(v-y0)/(y1-y0||1);"
    "const smax=Math.max(...ss);el(svg,'text',{x:W/2,y:H-15,'text-anchor':'middle',"
    "'font-size':11},'latency (ms, single thread)');el(svg,'text',{x:12,y:H/2,'font-size':11,"
    "transform:'rotate(-90 12 '+H/2+')','text-anchor':'middle'},D.metric+' (%)');"
    "for(let k=0;k<=4;k++){const v=y0+(y1-y0)*k/4;el(svg,'text',{x:P-4,y:Y(v)+4,"
    "'text-anchor':'end','font-size':10},v.toFixed(2));const u=x0+(x1-x0)*k/4;el(svg,'text',"
    "{x:X(u),y:H-P+14,'text-anchor':'middle','font-size':10},u.toFixed(3));}"
    "cs.forEach((c,i)=>{const r=4+14*Math.sqrt(ss[i]/smax);const m=el(svg,'circle',{class:"
    "'mark mark-cand',cx:X(xs[i]),cy:Y(ys[i]),r:r,fill:i===M.chosen?'#2a2':(c.meets?'#8c8':"
    "'#c66'),'fill-opacity':0.7});el(m,'title',{},c.label);el(svg,'text',{x:X(xs[i])+r+2,y:"
    "Y(ys[i])+4,'font-size':10},c.label);});}"
    "let h='<table><tr><th>model</th><th>float layers</th><th>MACs in float</th><th>'+esc(D."
    "metric)+'</th><th>size</th><th>latency</th><th>meets</th></tr>';cs.forEach((c,i)=>{h+="
    "'<tr><td>'+esc(c.label)+(i===M.chosen?' (chosen)':'')+'</td><td>'+(c.float_layers<0?"
    "'all':c.float_layers)+'</td><td>'+pct(c.macs_share)+'</td><td>'+pct(c.metric)+'</td><td>'"
    "+(c.bytes/1e6).toFixed(2)+' MB</td><td>'+c.latency_ms.toFixed(3)+' ms</td><td>'+(c.meets?"
    "'yes':'no')+'</td></tr>';});document.getElementById('cands').innerHTML=h+'</table>';}\n"
    "document.getElementById('verdict').textContent=D.verdict;\n"
    "document.body.setAttribute('data-rendered','1');\n"
    "</script></body></html>\n";

nn_status nn_analysis_write_html(const nn_analysis *a, const char *path) {
  cJSON *j = analysis_json(a);
  char *s = j ? cJSON_PrintUnformatted(j) : NULL;
  cJSON_Delete(j);
  if (!s) return nn_errorf(NN_ERR_NOMEM, "out of memory writing %s", path);
  /* "</" inside the JSON would end the script element: write it as "<\/". */
  size_t n = strlen(s), extra = 0;
  for (size_t i = 0; i + 1 < n; i++) extra += s[i] == '<' && s[i + 1] == '/';
  size_t total = sizeof k_html_head + n + extra + sizeof k_html_tail;
  char *page = malloc(total);
  nn_status st = NN_OK;
  if (!page) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory writing %s", path);
  } else {
    size_t o = 0;
    memcpy(page, k_html_head, sizeof k_html_head - 1);
    o += sizeof k_html_head - 1;
    for (size_t i = 0; i < n; i++) {
      page[o++] = s[i];
      if (s[i] == '<' && i + 1 < n && s[i + 1] == '/') page[o++] = '\\';
    }
    memcpy(page + o, k_html_tail, sizeof k_html_tail);
    st = write_text(path, page);
  }
  free(page);
  cJSON_free(s);
  return st;
}
