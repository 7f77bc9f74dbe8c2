"""The offline interactive map: one self-contained HTML file per station (SVG and a small script).

No network access at run time: no CDN, no web fonts, no tiles; the page's Content-Security-Policy
forbids every fetch (`default-src 'none'`), so a browser could not load anything even if the
page asked. The file holds:

- one SVG per deck (rooms as paths, plan metres with y pointing up, a scale bar and a plan north
  arrow); the deck buttons switch between them (the decks are layers);
- the plan per room as JSON: residents, assigned safe rooms with plan.json's `walk_s` (as
  written there), metres, entry door, the second option in reach, the route (door to door,
  `planner.brief.routes`); per safe room its capacity, phase and who is assigned (persons and
  rooms per scenario, summed from plan.json's assignments);
- the script: rooms coloured by the walk of the chosen scenario, safe rooms outlined by phase
  (a phase filter dims later phases), a search box ("type your room") that shows the room's safe
  rooms and routes per scenario, hover details, zoom (wheel) and pan (drag), a print view.

The page reads ``#room=<id>`` from its address at load (the browser test uses it) and marks
``<body data-ready="1">`` when it has drawn.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from planner.brief import Route, fmt_s
from planner.errors import OutputError
from planner.maps import PHASE_COLOURS, temporary_name
from planner.station import Station


def _svg_paths(geoms: np.ndarray) -> list[str]:
    """SVG path data per (multi)polygon, decimetre precision, y negated (SVG's y points down)."""
    geoms = np.asarray(geoms, dtype=object)
    out = [""] * len(geoms)
    if not len(geoms):
        return out
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
    if not len(coords):
        return out
    xy = np.round(coords * np.array([1.0, -1.0]), 1)
    cuts = np.flatnonzero(np.diff(ring_idx)) + 1
    owner = part_of[ring_part[np.unique(ring_idx)]]
    acc: list[list[str]] = [[] for _ in range(len(geoms))]
    for k, ring in zip(owner, np.split(xy, cuts)):
        pts = " ".join(f"{x:g} {y:g}" for x, y in ring[:-1])
        acc[int(k)].append(f"M{pts}Z")
    return ["".join(a) for a in acc]


def map_data(station: Station, plan: dict, briefs: pd.DataFrame, routes: dict[tuple[str, str], Route],
             tx: dict[str, str]) -> dict:
    """The page's data (plain JSON types): decks, rooms, safe rooms, routes, strings.

    Numbers are plan.json's: `walk_s` strings as `fmt_s` writes them, capacities, phases and
    assigned persons (sums of plan.json's assignments)."""
    rooms = station.rooms.drop_duplicates("room_id")
    scen = list(station.scenarios)
    safe_rows = {str(s["room_id"]): s for s in plan.get("safe_rooms", [])}
    a = pd.DataFrame(plan.get("assignments", []), columns=["room_id", "scenario", "safe_room_id", "residents", "walk_s"])
    a["room_id"] = a["room_id"].astype(str)
    a["safe_room_id"] = a["safe_room_id"].astype(str)
    agg = a.groupby(["safe_room_id", "scenario"]).agg(persons=("residents", "sum"), rooms=("room_id", "nunique"))
    safe = {}
    for sid, s in safe_rows.items():
        asg = {}
        for sc in scen:
            if (sid, sc) in agg.index:
                asg[sc] = [int(agg.at[(sid, sc), "persons"]), int(agg.at[(sid, sc), "rooms"])]
            else:
                asg[sc] = [0, 0]
        safe[sid] = {"name": str(s.get("name", "")), "capacity": int(s.get("capacity", 0) or 0),
                     "phase": int(s.get("phase", 1) or 1), "existing": bool(s.get("existing", False)),
                     "assigned": asg}
    # per room and scenario: every assignment (a room may be split over several safe rooms)
    brow = {(r["room_id"], r["scenario"]): r for r in briefs.to_dict("records")}
    info: dict[str, dict[str, list]] = {}
    a = a.sort_values(["room_id", "scenario", "residents"], ascending=[True, True, False], kind="stable")
    for rid, sc, sid, n, w in zip(a["room_id"], a["scenario"], a["safe_room_id"], a["residents"], a["walk_s"]):
        info.setdefault(rid, {}).setdefault(sc, []).append([sid, int(n), fmt_s(w)])
    demand = station.demand().reindex(columns=scen).fillna(0).astype(int)
    dem = {rid: dict(zip(scen, map(int, row))) for rid, row in zip(demand.index, demand.to_numpy())}
    room_list = []
    used_routes: dict[str, list] = {}
    for rid, name, kind, sector, deck in zip(rooms["room_id"].astype(str), rooms["name"].astype(str),
                                             rooms["kind"].astype(str), rooms["sector"].astype(str),
                                             rooms["deck"].astype(int)):
        entry: dict = {"id": rid, "name": name, "kind": kind, "sector": sector, "deck": int(deck),
                       "res": dem.get(rid, {sc: 0 for sc in scen}), "a": info.get(rid, {}), "walk": {}, "m": {},
                       "door": {}, "second": {}, "uns": {}}
        for sc in scen:
            br = brow.get((rid, sc))
            if br is None:
                continue
            if br["safe_room_id"]:
                entry["walk"][sc] = max(float(x[2]) for x in entry["a"].get(sc, [["", 0, "0"]]))
                entry["m"][sc] = None if pd.isna(br["walk_m"]) else int(br["walk_m"])
                entry["door"][sc] = br["door_id"]
                key = f"{rid}>{br['safe_room_id']}"
                rt = routes.get((rid, br["safe_room_id"]))
                if rt is not None and key not in used_routes and len(rt.xy) >= 2:
                    used_routes[key] = [[round(float(x), 1), round(float(-y), 1), int(d)]
                                        for (x, y), d in zip(rt.xy, np.nan_to_num(rt.deck))]
            if br["second_id"]:
                entry["second"][sc] = [br["second_id"], fmt_s(round(float(br["second_walk_s"]), 2))]
            if int(br["unsheltered"]):
                entry["uns"][sc] = int(br["unsheltered"])
        room_list.append(entry)
    decks = []
    for d in sorted(pd.unique(rooms["deck"])):
        sel = rooms[rooms["deck"] == d]
        geom = sel.geometry.to_numpy()
        x0, y0, x1, y1 = shapely.total_bounds(geom) if len(geom) else (0, 0, 1, 1)
        pad = 0.03 * max(x1 - x0, y1 - y0, 1.0)
        decks.append({"deck": int(d), "ids": sel["room_id"].astype(str).tolist(), "paths": _svg_paths(geom),
                      "box": [round(float(x0 - pad), 1), round(float(-y1 - pad), 1),
                              round(float(x1 - x0 + 2 * pad), 1), round(float(y1 - y0 + 2 * pad), 1)]})
    strings = {k.split(".", 1)[1]: v for k, v in tx.items() if k.startswith("map.")}
    strings.update({f"scenario.{k.split('.', 1)[1]}": v for k, v in tx.items() if k.startswith("scenario.")})
    return {"title": tx.get("map.title", "{station}").format(station=station.title), "scenarios": scen,
            "reach_s": float(station.params.reach_s), "phase_colours": PHASE_COLOURS, "strings": strings,
            "phase_names": [str(p.get("name", "")) for p in plan.get("phases", []) or []]
            or [ph.name for ph in station.params.phases],
            "created": str(plan.get("created", "")), "decks": decks, "rooms": room_list, "safe": safe,
            "routes": used_routes}


_CSS = """
*{box-sizing:border-box}body{margin:0;font:14px/1.35 "DejaVu Sans",Arial,sans-serif;color:#111;background:#fff}
header{display:flex;flex-wrap:wrap;gap:.6em;align-items:center;padding:.5em .8em;background:#111;color:#fff}
header h1{font-size:1.15em;margin:0 1em 0 0}header input{font-size:1.1em;padding:.25em .5em;width:13em}
header button,header select{font-size:1em;padding:.2em .6em}button.on{background:#ffd60a;font-weight:bold}
main{display:flex;height:calc(100vh - 3.2em)}#maps{flex:1;position:relative;min-width:0}
svg.deck{width:100%;height:100%;display:none;cursor:grab;background:#fafafa}svg.deck.active{display:block}
svg path.room{stroke:#666;stroke-width:.15;vector-effect:non-scaling-stroke}
svg path.safe{stroke-width:2.5px;vector-effect:non-scaling-stroke}svg path.dim{opacity:.25}
svg path.sel{fill:#ffd60a!important;stroke:#000;stroke-width:3px}
svg path.target{stroke:#000!important;stroke-width:4px!important}
svg polyline.route{fill:none;stroke-width:4px;vector-effect:non-scaling-stroke;stroke-linecap:round;stroke-linejoin:round}
aside{width:24em;overflow:auto;border-left:1px solid #ccc;padding:.6em .9em}
#result h2{font-size:1.2em;margin:.2em 0}#result .sc{margin:.5em 0;padding:.4em .5em;border-left:6px solid #000}
#result .big{font-size:1.35em;font-weight:bold}#tip{position:fixed;pointer-events:none;background:#fff;
border:1px solid #333;padding:.3em .5em;font-size:12px;display:none;max-width:22em;z-index:5}
.legend span{display:inline-block;width:2.2em;height:.9em;vertical-align:middle}.muted{color:#555;font-size:.9em}
#scalebar{position:absolute;left:12px;bottom:12px;background:rgba(255,255,255,.85);padding:2px 6px;font-size:12px;z-index:2}
#scalebar i{display:block;height:6px;background:#000;margin-top:2px}#north{position:absolute;right:14px;top:10px;
text-align:center;font-size:12px;font-weight:bold;line-height:1.1;z-index:2;background:rgba(255,255,255,.85);padding:2px 4px}
#north{font-size:12px}@media print{header,#tip{display:none}main{height:auto;display:block}svg.deck.active{height:60vh}
aside{width:auto;border:0}}
"""

_JS = r"""
(function(){
const D=JSON.parse(document.getElementById('data').textContent);
const T=k=>D.strings[k]||k, SC=s=>D.strings['scenario.'+s]||s;
const NS='http://www.w3.org/2000/svg', RC=['#000000','#0047ab','#c2410c','#6b21a8'];
const rooms={}; D.rooms.forEach(r=>rooms[r.id]=r);
const byLower={}; D.rooms.forEach(r=>byLower[r.id.toLowerCase()]=r.id);
let scen=D.scenarios[0], deck=D.decks.length?D.decks[0].deck:null, maxPhase=0, current=null;
const svgs={}, views={};
function colour(w){ if(w===undefined) return '#f2f2f2';
  const t=Math.max(0,Math.min(1,w/D.reach_s)); // green -> yellow -> red
  const c=t<.5?[26+(254-26)*t*2,152+(224-152)*t*2,80+(139-80)*t*2]:[254+(215-254)*(t-.5)*2,224+(48-224)*(t-.5)*2,139+(39-139)*(t-.5)*2];
  return 'rgb('+c.map(Math.round).join(',')+')'; }
function el(n,a){const e=document.createElementNS(NS,n);for(const k in a)e.setAttribute(k,a[k]);return e;}
const maps=document.getElementById('maps');
D.decks.forEach(dk=>{
  const s=el('svg',{'class':'deck','viewBox':dk.box.join(' '),'data-deck':dk.deck});
  const g=el('g',{'class':'rooms'});
  dk.ids.forEach((id,i)=>{const p=el('path',{'d':dk.paths[i],'class':'room','data-id':id});
    if(D.safe[id]){p.classList.add('safe');} g.appendChild(p);});
  s.appendChild(g); s.appendChild(el('g',{'class':'routes'}));
  maps.appendChild(s); svgs[dk.deck]=s; views[dk.deck]=dk.box.slice();
});
function paint(){
  document.querySelectorAll('path.room').forEach(p=>{const r=rooms[p.dataset.id];
    p.setAttribute('fill',colour(r.walk[scen]));
    const s=D.safe[p.dataset.id];
    if(s){p.setAttribute('stroke',D.phase_colours[(s.phase-1)%D.phase_colours.length]);
      p.classList.toggle('dim',maxPhase>0&&s.phase>maxPhase);}
  });
}
function showDeck(d){deck=d;for(const k in svgs)svgs[k].classList.toggle('active',+k===d); furniture(d);
  document.querySelectorAll('#decks button').forEach(b=>b.classList.toggle('on',+b.dataset.deck===d));}
const deckBar=document.getElementById('decks');
D.decks.forEach(dk=>{const b=document.createElement('button');b.textContent=T('deck')+' '+dk.deck;b.dataset.deck=dk.deck;
  b.onclick=()=>showDeck(dk.deck);deckBar.appendChild(b);});
const ss=document.getElementById('scen');
D.scenarios.forEach(s=>{const o=document.createElement('option');o.value=s;o.textContent=SC(s);ss.appendChild(o);});
ss.onchange=()=>{scen=ss.value;paint();};
const ps=document.getElementById('phase');
const phases=[...new Set(Object.values(D.safe).map(s=>s.phase))].sort((a,b)=>a-b);
phases.forEach(k=>{const o=document.createElement('option');o.value=k;o.textContent='≤ '+k;ps.appendChild(o);});
ps.onchange=()=>{maxPhase=+ps.value;paint();};
const dl=document.getElementById('ids'); D.rooms.forEach(r=>{const o=document.createElement('option');o.value=r.id;dl.appendChild(o);});
function clearSel(){document.querySelectorAll('path.sel,path.target').forEach(p=>p.classList.remove('sel','target'));
  document.querySelectorAll('g.routes').forEach(g=>g.textContent='');}
function pathOf(id){return document.querySelector('path[data-id="'+CSS.escape(id)+'"]');}
function select(q){
  const res=document.getElementById('result'); q=(q||'').trim(); if(!q) return;
  const id=rooms[q]?q:byLower[q.toLowerCase()];
  clearSel();
  if(!id){res.innerHTML='<p>'+esc(T('not_found').replace('{room}',q))+'</p>';res.dataset.room='';return;}
  const r=rooms[id]; current=id; showDeck(r.deck);
  const me=pathOf(id); if(me) me.classList.add('sel');
  let h='<h2>'+esc(id)+' <span class="muted">'+esc(r.name)+', '+T('deck')+' '+r.deck+', '+esc(r.sector)+'</span></h2>';
  const pts=[];
  D.scenarios.forEach((s,k)=>{
    const a=r.a[s]||[]; const col=RC[k%RC.length];
    h+='<div class="sc" style="border-color:'+col+'" data-scenario="'+s+'"><b>'+esc(SC(s))+'</b> · '+T('residents')+' '+(r.res[s]||0)+'<br>';
    if(!a.length){ h+= r.second[s]? esc(T('nearest'))+': <span class="safe-id">'+esc(r.second[s][0])+'</span>, '+r.second[s][1]+' s':(r.res[s]?esc(T('none')):'–'); }
    a.forEach((x,j)=>{ const sr=D.safe[x[0]]||{};
      h+=(j?'<br>':'')+'<span class="big safe-id">'+esc(x[0])+'</span> '+esc(sr.name||'')+'<br>'+T('walk')+' <span class="walk">'+x[2]+'</span> s'
        +(j===0&&r.m[s]!=null?', '+r.m[s]+' m':'')+(j===0&&r.door[s]?', '+esc(r.door[s]):'')+(a.length>1?' ('+x[1]+' '+T('people')+')':'');
      const t=pathOf(x[0]); if(t) t.classList.add('target');
      const rt=D.routes[id+'>'+x[0]];
      if(rt){ let seg=[],dk=rt[0][2];
        const flush=()=>{ if(seg.length>1){const pl=el('polyline',{'class':'route','points':seg.map(p=>p[0]+','+p[1]).join(' '),stroke:col});
          if(k) pl.setAttribute('stroke-dasharray',k===1?'10 6':'3 6'); svgs[dk].querySelector('g.routes').appendChild(pl);} };
        rt.forEach(p=>{ if(p[2]!==dk){flush();seg=[];dk=p[2];} seg.push(p); if(p[2]===r.deck) pts.push(p); }); flush(); }
    });
    if(r.uns[s]) h+='<br><b>'+r.uns[s]+' unsheltered</b>';
    if(a.length&&r.second[s]) h+='<br><span class="muted">'+T('second')+': '+esc(r.second[s][0])+', '+r.second[s][1]+' s</span>';
    h+='</div>';
  });
  res.innerHTML=h; res.dataset.room=id;
  if(pts.length){ let xs=pts.map(p=>p[0]),ys=pts.map(p=>p[1]);
    const x0=Math.min(...xs)-15,x1=Math.max(...xs)+15,y0=Math.min(...ys)-15,y1=Math.max(...ys)+15, m=Math.max(x1-x0,y1-y0,60);
    setView(r.deck,[(x0+x1)/2-m/2,(y0+y1)/2-m/2,m,m]); }
  if(location.hash!=='#room='+encodeURIComponent(id)) history.replaceState(null,'','#room='+encodeURIComponent(id));
}
function esc(s){return String(s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));}
function furniture(d){ // scale bar and plan north arrow for the current view, as an overlay (pixels)
  if(d===null||d===undefined) return;
  const [x,y,w,h]=views[d], b=svgs[d].getBoundingClientRect(); if(!b.width||!b.height) return;
  const ppm=Math.min(b.width/w,b.height/h), tg=120/ppm, b0=Math.pow(10,Math.floor(Math.log10(tg))),
        bar=b0*(tg>=5*b0?5:tg>=2*b0?2:1);
  const sb=document.getElementById('scalebar'); sb.querySelector('i').style.width=(bar*ppm)+'px';
  sb.querySelector('b').textContent=bar+' m';}
function setView(d,v){views[d]=v;svgs[d].setAttribute('viewBox',v.join(' '));furniture(d);}
document.getElementById('reset').onclick=()=>{D.decks.forEach(dk=>setView(dk.deck,dk.box.slice()));};
document.getElementById('print').onclick=()=>window.print();
const q=document.getElementById('q'); q.addEventListener('change',()=>select(q.value));
q.addEventListener('keydown',e=>{if(e.key==='Enter')select(q.value);});
// hover details
const tip=document.getElementById('tip');
maps.addEventListener('mousemove',e=>{const p=e.target.closest&&e.target.closest('path.room');
  if(!p){tip.style.display='none';return;} const r=rooms[p.dataset.id], s=D.safe[r.id];
  let h='<b>'+esc(r.id)+'</b> '+esc(r.name)+' ('+esc(r.kind)+')<br>'+T('residents')+': '+D.scenarios.map(x=>SC(x)+' '+(r.res[x]||0)).join(', ');
  D.scenarios.forEach(x=>{const a=r.a[x]; if(a&&a.length) h+='<br>'+SC(x)+': '+a.map(y=>esc(y[0])+' '+y[2]+' s').join(', ');});
  if(s) h+='<br><b>'+T('safe_room')+'</b>, phase '+s.phase+', '+T('capacity')+' '+s.capacity+'<br>'+T('assigned')+': '
    +D.scenarios.map(x=>SC(x)+' '+s.assigned[x][0]+' ('+s.assigned[x][1]+' rooms)').join(', ');
  tip.innerHTML=h; tip.style.display='block'; tip.style.left=(e.clientX+14)+'px'; tip.style.top=(e.clientY+14)+'px';});
maps.addEventListener('mouseleave',()=>tip.style.display='none');
maps.addEventListener('click',e=>{const p=e.target.closest&&e.target.closest('path.room'); if(p){q.value=p.dataset.id;select(p.dataset.id);}});
// zoom (wheel) and pan (drag)
maps.addEventListener('wheel',e=>{if(deck===null)return;e.preventDefault();const s=svgs[deck],v=views[deck],b=s.getBoundingClientRect();
  const f=e.deltaY>0?1.2:1/1.2, fx=(e.clientX-b.left)/b.width, fy=(e.clientY-b.top)/b.height;
  setView(deck,[v[0]+v[2]*fx*(1-f),v[1]+v[3]*fy*(1-f),v[2]*f,v[3]*f]);},{passive:false});
let drag=null; maps.addEventListener('mousedown',e=>{drag=[e.clientX,e.clientY,views[deck].slice()];});
window.addEventListener('mouseup',()=>drag=null); window.addEventListener('resize',()=>furniture(deck));
window.addEventListener('mousemove',e=>{if(!drag)return;const b=svgs[deck].getBoundingClientRect(),v=drag[2],k=Math.max(v[2]/b.width,v[3]/b.height);
  setView(deck,[v[0]-(e.clientX-drag[0])*k,v[1]-(e.clientY-drag[1])*k,v[2],v[3]]);});
const pl=document.getElementById('phases');
phases.forEach(k=>{const sp=document.createElement('span');sp.style.border='3px solid '+D.phase_colours[(k-1)%D.phase_colours.length];
  sp.style.background='#fff';pl.appendChild(sp);pl.appendChild(document.createTextNode(' '+k+(D.phase_names[k-1]?' '+D.phase_names[k-1]:'')+'  '));});
if(deck!==null) showDeck(deck); paint();
const m=location.hash.match(/room=([^&]+)/); if(m){q.value=decodeURIComponent(m[1]);select(q.value);}
document.body.dataset.ready='1';
})();
"""


def render_html(data: dict) -> str:
    """The self-contained page for `map_data`'s dict."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    s = data["strings"]
    title = html.escape(data["title"])
    legend = "".join(f'<span style="background:{c}"></span> {lab} ' for c, lab in
                     (("rgb(26,152,80)", "0 s"), ("rgb(254,224,139)", f"{data['reach_s'] / 2:g} s"),
                      ("rgb(215,48,39)", f"{data['reach_s']:g} s")))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{_CSS}</style></head>
<body data-ready="0">
<header><h1>{title}</h1>
<input id="q" list="ids" placeholder="{html.escape(s.get('search', 'type your room'))}" autocomplete="off" aria-label="{html.escape(s.get('search', 'type your room'))}">
<datalist id="ids"></datalist>
<span id="decks"></span>
<label>{html.escape(s.get('scenario', 'scenario'))} <select id="scen"></select></label>
<label>phase <select id="phase"><option value="0">all</option></select></label>
<button id="reset">⤢</button><button id="print">{html.escape(s.get('print', 'Print'))}</button></header>
<main><div id="maps"><div id="scalebar"><b></b><i></i></div><div id="north">▲<br>N (+y)</div></div>
<aside><div id="result" data-room=""></div>
<p class="legend">{html.escape(s.get('legend_walk', ''))}<br>{legend}</p>
<p class="legend" id="phases">{html.escape(s.get('legend_safe', ''))}:<br></p>
<p class="muted">Plan of {html.escape(data['created'][:10])}; walking times from plan.json; routes drawn as straight lines from door to door.</p>
</aside></main><div id="tip"></div>
<script type="application/json" id="data">{payload}</script>
<script>{_JS}</script>
</body></html>
"""


def write_webmap(path: Path, station: Station, plan: dict, briefs: pd.DataFrame,
                 routes: dict[tuple[str, str], Route], tx: dict[str, str]) -> Path:
    """Write the interactive map (one HTML file, everything embedded) to `path`, atomically."""
    path = Path(path)
    text = render_html(map_data(station, plan, briefs, routes, tx))
    tmp = temporary_name(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: the interactive map cannot be written ({exc}). Fix: choose a writable folder") \
            from None
    return path
