// Members and invitations of one org. Admins add and remove, and see who has two-factor sign-in
// on; owners also change roles, their own included (stepping down), as long as another owner
// remains.
import { api, path, request } from '../api.js';
import { actionButton, confirmDialog, copyRow, form, h, loader, notify, openDialog, page, plural, table, time } from '../dom.js';
import { atLeast, homePath, loadSession, roleName } from '../session.js';

const roleOptions = (roles) => roles.map((role) => [role, roleName(role)]);

export function membersView({ org, user, navigate, refresh }) {
  const isOwner = org.role === 'owner';
  const isAdmin = atLeast(org.role, 'admin');
  const membersApi = (...rest) => path('orgs', org.id, 'members', ...rest);
  const lists = h('div', { class: 'members' });
  const invited = h('div', { class: 'panel panel-success', hidden: true, 'data-testid': 'invited' });
  const reload = () => loader(() => api.get(membersApi()), render, lists);

  // Granting or taking owner/admin is for owners only, so admins can only add plain members.
  const grantable = roleOptions(isOwner ? ['member', 'admin', 'owner'] : ['member']);
  const mayHandle = (role) => isOwner || (isAdmin && role === 'member');
  const canRemove = (m) => m.user_id !== user.id && mayHandle(m.role);

  function changeRole(member) {
    const self = member.user_id === user.id;
    openDialog(`Change role of ${member.email}`, (close) =>
      form({
        id: 'role-form',
        fields: [{ name: 'role', label: 'Role', options: grantable, value: member.role }],
        submitLabel: 'Save role',
        errorFields: { LAST_OWNER: 'role' },
        extra: h('button', { type: 'button', class: 'btn', onclick: close }, 'Cancel'),
        onSubmit: async ({ role }) => {
          const steppingDown = self && role !== 'owner';
          const message = `Only another owner can make you an owner of ${org.name} again.`;
          if (steppingDown && !(await confirmDialog(`Become ${role}?`, message, 'Step down'))) return;
          await api.patch(membersApi(member.user_id), { role });
          close();
          notify(`${self ? 'You are' : `${member.email} is`} now ${role}.`);
          // Stepping down changes what this screen and the navigation may offer.
          if (steppingDown) refresh();
          else reload();
        },
      }),
    );
  }

  async function remove(member) {
    if (!(await confirmDialog('Remove member?', `${member.email} will lose access to ${org.name} and its links.`, 'Remove'))) return;
    await api.delete(membersApi(member.user_id));
    notify(`Removed ${member.email}.`);
    reload();
  }

  async function withdraw(invitation) {
    await api.delete(path('orgs', org.id, 'invitations', invitation.email));
    notify(`Withdrew the invitation for ${invitation.email}.`);
    reload();
  }

  async function leave() {
    if (!(await confirmDialog(`Leave ${org.name}?`, 'You will lose access to its links unless someone adds you again.', 'Leave'))) return;
    await api.delete(membersApi(user.id));
    await loadSession();
    navigate(homePath());
    notify(`You left ${org.name}.`);
  }

  // The last owner is offered neither leaving nor stepping down: both are shown disabled, with
  // the reason (the API would refuse them).
  const leaveButton = actionButton('Leave organization', leave, { class: 'btn btn-danger', id: 'leave-org' });
  const lastOwnerReason = h('p', { class: 'hint', id: 'last-owner-reason', hidden: true },
    `You are the only owner of ${org.name}. Make someone else an owner before you leave or step down.`);

  function render({ items, invitations = [] }) {
    const lastOwner = isOwner && items.filter((m) => m.role === 'owner').length === 1;
    leaveButton.disabled = lastOwner;
    lastOwnerReason.hidden = !lastOwner;
    if (lastOwner) leaveButton.setAttribute('aria-describedby', 'last-owner-reason');
    else leaveButton.removeAttribute('aria-describedby');
    const stuck = (m) => lastOwner && m.user_id === user.id;
    return [
      h('h2', {}, plural(items.length, 'member')),
      table({
        testid: 'members-table',
        rows: items,
        columns: [
          { label: 'Name', cell: (m) => [m.name || '—', m.user_id === user.id && h('span', { class: 'badge' }, 'You')] },
          { label: 'Email', cell: (m) => m.email, class: 'cell-wrap' },
          { label: 'Role', cell: (m) => roleName(m.role) },
          { label: 'Joined', cell: (m) => time(m.joined_at), class: 'cell-when' },
          // Only admins and owners are told this (the API leaves it out for members).
          isAdmin && {
            label: 'Two-factor',
            cell: (m) => m.two_factor
              ? h('span', { class: 'badge', 'data-testid': 'two-factor-status' }, 'On')
              : h('span', { class: 'badge badge-warn', 'data-testid': 'two-factor-status' }, 'Off'),
          },
          isAdmin && {
            label: 'Actions',
            cell: (m) =>
              h(
                'div',
                { class: 'row-actions' },
                isOwner && h('button', {
                  type: 'button',
                  class: 'btn btn-small',
                  'aria-label': `Change role of ${m.email}`,
                  disabled: stuck(m),
                  title: stuck(m) ? 'The only owner cannot step down.' : null,
                  'aria-describedby': stuck(m) ? 'last-owner-reason' : null,
                  onclick: () => changeRole(m),
                }, 'Change role'),
                canRemove(m) && actionButton('Remove', () => remove(m), { class: 'btn btn-small btn-danger', 'aria-label': `Remove ${m.email}` }),
              ),
          },
        ].filter(Boolean),
      }),
      h('h2', {}, 'Pending invitations'),
      table({
        testid: 'invitations-table',
        rows: invitations,
        empty: 'No pending invitations.',
        columns: [
          { label: 'Email', cell: (i) => i.email, class: 'cell-wrap' },
          { label: 'Role', cell: (i) => roleName(i.role) },
          { label: 'Invited', cell: (i) => time(i.created_at), class: 'cell-when' },
          isAdmin && {
            label: 'Actions',
            cell: (i) => mayHandle(i.role) && actionButton('Withdraw', () => withdraw(i), { class: 'btn btn-small btn-danger', 'aria-label': `Withdraw invitation for ${i.email}` }),
          },
        ].filter(Boolean),
      }),
    ];
  }

  reload();
  return page(
    `Members of ${org.name}`,
    isAdmin &&
      h(
        'div',
        { class: 'card' },
        h('h2', {}, 'Add a member'),
        h('p', { class: 'hint' }, 'People without a Kurz account get an invitation and join when they sign up with this email.'),
        form({
          id: 'member-form',
          fields: [
            { name: 'email', label: 'Email', type: 'email', required: true, autocomplete: 'off' },
            { name: 'role', label: 'Role', options: grantable, value: 'member' },
          ],
          submitLabel: 'Add member',
          onSubmit: async (values, el) => {
            const { status } = await request('POST', membersApi(), values);
            el.reset();
            invited.hidden = status !== 202;
            if (status === 202) {
              // No mail goes out: say so, and give the link to send them.
              const link = `${location.origin}/#/register?email=${encodeURIComponent(values.email)}`;
              invited.replaceChildren(
                h('p', { class: 'panel-title' }, `${values.email} is invited as ${values.role}`),
                h('p', {}, `Kurz does not email them: share this link. They join ${org.name} when they sign up with this email.`),
                copyRow('invite-link', 'Sign-up link', link, 'sign-up link'),
              );
              invited.querySelector('button').focus();
            } else {
              notify(`${values.email} is now a member (${values.role}).`);
            }
            reload();
          },
        }),
        invited,
      ),
    lists,
    h(
      'div',
      { class: 'card card-danger' },
      h('h2', {}, 'Leave organization'),
      h('p', {}, `Stop being a member of ${org.name}. The last owner cannot leave.`),
      lastOwnerReason,
      leaveButton,
    ),
  );
}
