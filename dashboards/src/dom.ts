/**
 * Builds elements. Strings become text nodes, never HTML: everything agents send (release names,
 * messages, stacks, URLs) reaches the page through here or `textContent`.
 */
type Child = Node | string | number | null | undefined | false
type Props = { class?: string; title?: string; href?: string; data?: Record<string, string> } & Record<string, unknown>

export const el = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] => {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined) continue
    if (key === 'class') node.className = String(value)
    else if (key === 'data') for (const [k, v] of Object.entries(value as Record<string, string>)) node.dataset[k] = v
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value as EventListener)
    else (node as unknown as Record<string, unknown>)[key] = value
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) node.append(typeof c === 'number' ? String(c) : c)
  return node
}
