// The web dashboard every node serves at `/`: one static page that polls /v1/status, with the
// session cookie a one-time login URL set (cluster dashboard; see api/auth-routes.ts).
// No build step and no framework: it renders three tables and the warnings. A full quorum disk
// (status.quorumWritesBlocked) is the first warning line, in bold: everything below waits for it;
// a group's reason (owner Down, failover blocked) follows its state.

export function renderDashboard(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>clusterd</title>
<style>
 body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
 table{border-collapse:collapse;margin:.5em 0 1.5em}
 td,th{border:1px solid #ccc;padding:.25em .7em;text-align:left}
 .Online,.Up{color:#070}.Failed,.Down{color:#b00}.Pending,.OnlinePending,.OfflinePending,.Joining,.Paused,.Unknown{color:#a60}
 #warnings li{color:#b00} #warnings li.blocked{font-weight:bold}
</style></head><body>
<h1>clusterd <span id="cluster"></span></h1>
<p id="meta"></p><ul id="warnings"></ul>
<h2>Nodes</h2><table id="nodes"></table>
<h2>Groups</h2><table id="groups"></table>
<h2>Resources</h2><table id="resources"></table>
<script>
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
function table(id, head, rows) {
  document.getElementById(id).innerHTML = '<tr>' + head.map((h) => '<th>' + h + '</th>').join('') + '</tr>' +
    rows.map((r) => '<tr>' + r.map((c, i) => '<td class="' + (i === r.length - 1 ? esc(c).split('(')[0] : '') + '">' + esc(c) + '</td>').join('') + '</tr>').join('');
}
async function refresh() {
  try {
    const r = await fetch('/v1/status');
    if (r.status === 401) {
      document.getElementById('meta').textContent = 'not logged in: run "cluster dashboard" in a terminal and open the one-time URL it prints';
      return;
    }
    const s = await r.json();
    document.getElementById('cluster').textContent = s.cluster;
    document.getElementById('meta').textContent = 'answered by ' + s.node + ' · coordinator ' + (s.coordinator ?? 'none') + ' (term ' + s.term + ') · config seq ' + s.appliedSeq;
    // The store's refusal is the first warning when there is one (views.statusSnapshot): in bold.
    document.getElementById('warnings').innerHTML = s.warnings.map((w, i) => '<li' + (i === 0 && s.quorumWritesBlocked ? ' class="blocked"' : '') + '>' + esc(w) + '</li>').join('');
    table('nodes', ['Node', 'Node ID', 'Status'], s.nodes.map((n) => [n.name + (n.coordinator ? ' (coordinator)' : ''), n.id, n.state]));
    table('groups', ['Group', 'Node', 'Epoch', 'Status'], s.groups.map((g) => [g.name, g.node ?? '', g.epoch, g.state + (g.reason ? ' (' + g.reason + ')' : '')]));
    table('resources', ['Resource', 'Group', 'Node', 'Status'], s.resources.map((r) => [r.name, r.group, r.node ?? '', r.status]));
  } catch (e) {
    document.getElementById('meta').textContent = 'cannot reach this node: ' + e;
  }
}
refresh(); setInterval(refresh, 1000);
</script></body></html>`;
}
