// The interactive map's script (embedded into map.html by planner/webmap.py): reads the JSON in
// <script id="data">, draws the decks, search, hover, zoom, print. No network access.
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
  const mv=el('g',{'class':'moves'}); // residents moved out of repurposed rooms (plan.json relocations)
  ((D.moves||{})[dk.deck]||[]).forEach(m=>{const ln=el('line',{'class':'move','x1':m[0],'y1':m[1],'x2':m[2],'y2':m[3],
    'stroke':D.move_colour,'marker-end':'url(#mv'+dk.deck+')'}); const t=el('title',{});
    t.textContent=m[4]+' '+T('people')+': '+m[5]+' → '+m[6]; ln.appendChild(t); mv.appendChild(ln);});
  if(mv.childNodes.length){const dm=el('defs',{}),mk=el('marker',{'id':'mv'+dk.deck,'viewBox':'0 0 10 10','refX':'9','refY':'5',
    'markerWidth':'6','markerHeight':'6','orient':'auto-start-reverse'});
    mk.appendChild(el('path',{'d':'M0,0L10,5L0,10z','fill':D.move_colour})); dm.appendChild(mk); s.appendChild(dm);}
  s.appendChild(mv);
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
