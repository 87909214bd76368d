import { api } from '../api.js';
import { useResource } from '../hooks.js';
import { Link } from '../router.js';

/** A link to a project by its name, falling back to the id while (or if) the name can't be read. */
export function ProjectLink({ id }: { id: number }) {
  const project = useResource(`project:${id}`, () => api.project(id));
  return <Link to={`/projects/${id}`}>{project.data?.name ?? `Project #${id}`}</Link>;
}
