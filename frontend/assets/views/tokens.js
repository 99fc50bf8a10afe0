// API tokens of one org (admins only): create, list, revoke.
import { api, path } from '../api.js';
import { actionButton, confirmDialog, copyRow, form, h, loader, notify, page, table, time } from '../dom.js';
import { atLeast, roleName } from '../session.js';

export function tokensView({ org }) {
  if (!atLeast(org.role, 'admin')) {
    return page('API tokens', h('p', { class: 'panel' }, `Only admins and owners of ${org.name} can manage API tokens.`));
  }
  const tokensApi = (...rest) => path('orgs', org.id, 'tokens', ...rest);
  const secret = h('div', { class: 'panel panel-warn', id: 'token-secret', hidden: true, 'data-testid': 'token-secret' });
  const list = h('div');
  const reload = () => loader(() => api.get(tokensApi()), render, list);

  async function revoke(token) {
    if (!(await confirmDialog('Revoke token?', `Programs using “${token.name}” will be refused at once.`, 'Revoke'))) return;
    await api.delete(tokensApi(token.id));
    // Its one-time secret, if still shown, is of no use any more.
    if (secret.dataset.tokenId === token.id) {
      secret.hidden = true;
      secret.replaceChildren();
    }
    notify(`Revoked ${token.name}.`);
    reload();
  }

  // The heading belongs to the list: keyboard focus falls back to it when a revoked token's row goes.
  function render({ items }) {
    return [
      h('h2', {}, 'Tokens'),
      table({
        testid: 'tokens-table',
        rows: items,
        empty: 'No API tokens yet.',
        columns: [
          { label: 'Name', cell: (t) => t.name, class: 'cell-wrap' },
          { label: 'Role', cell: (t) => roleName(t.role) },
          { label: 'Created', cell: (t) => time(t.created_at), class: 'cell-when' },
          { label: 'Last used', cell: (t) => time(t.last_used_at, 'Never'), class: 'cell-when' },
          { label: 'Actions', cell: (t) => actionButton('Revoke', () => revoke(t), { class: 'btn btn-small btn-danger', 'aria-label': `Revoke ${t.name}` }) },
        ],
      }),
    ];
  }

  reload();
  return page(
    'API tokens',
    h(
      'div',
      { class: 'card' },
      h('h2', {}, 'Create a token'),
      h('p', { class: 'hint' }, `A token acts inside ${org.name} only, with the role you give it. Send it as “Authorization: Bearer <token>”.`),
      h(
        'p',
        { class: 'hint', 'data-testid': 'token-owner-hint' },
        `A token belongs to you: it never does more than your own role in ${org.name} allows at the time, and it stops working if you leave ${org.name} or delete your account.`,
      ),
      form({
        id: 'token-form',
        fields: [
          { name: 'name', label: 'Token name', required: true, autocomplete: 'off', attrs: { placeholder: 'CI pipeline' } },
          { name: 'role', label: 'Role', options: [['member', 'Member'], ['admin', 'Admin']], value: 'member' },
        ],
        submitLabel: 'Create token',
        onSubmit: async (values, el) => {
          const token = await api.post(tokensApi(), values);
          el.reset();
          secret.hidden = false;
          secret.dataset.tokenId = token.id;
          secret.replaceChildren(
            h('p', { class: 'panel-title' }, `Token “${token.name}” created`),
            h('p', {}, h('strong', {}, 'Copy it now: it will not be shown again.'), ' Kurz stores only a hash of it.'),
            copyRow('token-value', 'API token', token.token, 'token'),
          );
          secret.querySelector('button').focus();
          reload();
        },
      }),
      secret,
    ),
    list,
  );
}
