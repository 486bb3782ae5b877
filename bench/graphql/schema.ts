/**
 * bench:graphql's analysis workload: a GitHub-like schema (interfaces, a union, connections,
 * list fields bounded by `first`), one dashboard query of about 500 fields built from fragments,
 * and trivial resolvers (property reads; a list field returns a prebuilt page of `first` items)
 * so that executing the query costs what graphql's executor costs and nothing else.
 */
import type { DocumentNode, SelectionSetNode } from "graphql";

export const SDL = /* GraphQL */ `
  directive @cost(weight: Int!, defaultListSize: Int) on FIELD_DEFINITION
  scalar DateTime
  enum IssueState { OPEN CLOSED }
  enum PullRequestState { OPEN CLOSED MERGED }
  interface Node { id: ID! }
  union SearchResult = Repository | User | Issue

  type Query {
    viewer: User!
    user(login: String!): User
    repository(owner: String!, name: String!): Repository
    search(query: String!, first: Int!): [SearchResult!]! @cost(weight: 5)
    node(id: ID!): Node
  }
  type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }
  type User implements Node {
    id: ID! login: String! name: String! email: String! bio: String company: String
    location: String avatarUrl: String! websiteUrl: String createdAt: DateTime! isHireable: Boolean!
    followers(first: Int): UserConnection!
    following(first: Int): UserConnection!
    repositories(first: Int): RepositoryConnection!
    organizations(first: Int): [Organization!]!
  }
  type UserConnection { totalCount: Int! pageInfo: PageInfo! nodes: [User!]! }
  type Organization implements Node {
    id: ID! login: String! name: String description: String avatarUrl: String!
    membersWithRole(first: Int): UserConnection!
  }
  type Language { id: ID! name: String! color: String }
  type LanguageConnection { totalCount: Int! nodes: [Language!]! }
  type Repository implements Node {
    id: ID! name: String! nameWithOwner: String! description: String url: String!
    homepageUrl: String stargazerCount: Int! forkCount: Int! isPrivate: Boolean! isFork: Boolean!
    isArchived: Boolean! createdAt: DateTime! updatedAt: DateTime! pushedAt: DateTime
    owner: User! primaryLanguage: Language
    languages(first: Int): LanguageConnection!
    issues(first: Int, states: [IssueState!]): IssueConnection!
    pullRequests(first: Int): PullRequestConnection!
    releases(first: Int): ReleaseConnection!
    defaultBranchRef: Ref
  }
  type RepositoryConnection { totalCount: Int! nodes: [Repository!]! }
  type Label { id: ID! name: String! color: String! description: String }
  type LabelConnection { totalCount: Int! nodes: [Label!]! }
  type Comment { id: ID! body: String! createdAt: DateTime! updatedAt: DateTime! author: User }
  type CommentConnection { totalCount: Int! nodes: [Comment!]! }
  type Issue implements Node {
    id: ID! number: Int! title: String! body: String! state: IssueState! createdAt: DateTime!
    closedAt: DateTime url: String! author: User
    labels(first: Int): LabelConnection!
    comments(first: Int): CommentConnection!
    assignees(first: Int): UserConnection!
  }
  type IssueConnection { totalCount: Int! pageInfo: PageInfo! nodes: [Issue!]! }
  type Review { id: ID! state: String! body: String! submittedAt: DateTime author: User }
  type ReviewConnection { totalCount: Int! nodes: [Review!]! }
  type PullRequest implements Node {
    id: ID! number: Int! title: String! state: PullRequestState! additions: Int! deletions: Int!
    changedFiles: Int! createdAt: DateTime! mergedAt: DateTime author: User
    reviews(first: Int): ReviewConnection!
  }
  type PullRequestConnection { totalCount: Int! nodes: [PullRequest!]! }
  type Release { id: ID! name: String tagName: String! publishedAt: DateTime isPrerelease: Boolean! }
  type ReleaseConnection { totalCount: Int! nodes: [Release!]! }
  type GitActor { name: String email: String date: DateTime }
  type Commit { oid: String! message: String! committedDate: DateTime! additions: Int! deletions: Int! author: GitActor }
  type Ref { name: String! target: Commit }
`;

/** A dashboard page's query: list sizes come from $n and $m, so one document serves both runs. */
export const QUERY = /* GraphQL */ `
  query Dashboard($login: String!, $n: Int!, $m: Int!, $withPRs: Boolean!) {
    viewer {
      ...UserCard
      followers(first: $n) { totalCount pageInfo { ...PageInfoFields } nodes { ...UserCard } }
      following(first: $m) { totalCount nodes { ...UserCard } }
      organizations(first: $m) { id login name description avatarUrl }
      repositories(first: $n) { totalCount nodes { ...RepoFields } }
    }
    api: repository(owner: "acme", name: "api") { ...RepoFull }
    web: repository(owner: "acme", name: "web") { ...RepoFull }
    user(login: $login) {
      ...UserCard
      organizations(first: $m) { id login name description avatarUrl }
      repositories(first: $n) { totalCount nodes { ...RepoFields } }
    }
    search(query: "rate limit", first: $n) {
      __typename
      ... on Repository { ...RepoFields }
      ... on User { ...UserCard }
      ... on Issue { ...IssueFields }
    }
    node(id: "R_1") { __typename id ... on Repository { ...RepoFields } }
  }
  fragment PageInfoFields on PageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  fragment UserCard on User {
    id login name email bio company location avatarUrl websiteUrl createdAt isHireable
  }
  fragment LabelFields on Label { id name color description }
  fragment CommentFields on Comment { id body createdAt updatedAt author { ...UserCard } }
  fragment RepoFields on Repository {
    id name nameWithOwner description url homepageUrl stargazerCount forkCount isPrivate isFork
    isArchived createdAt updatedAt pushedAt
    primaryLanguage { id name color }
    owner { ...UserCard }
  }
  fragment IssueFields on Issue {
    id number title body state createdAt closedAt url
    author { ...UserCard }
    labels(first: $m) { totalCount nodes { ...LabelFields } }
  }
  fragment PRFields on PullRequest {
    id number title state additions deletions changedFiles createdAt mergedAt
    author { login }
    reviews(first: $m) { nodes { id state submittedAt author { login } } }
  }
  fragment RepoFull on Repository {
    ...RepoFields
    languages(first: $m) { totalCount nodes { id name color } }
    issues(first: $n, states: [OPEN]) {
      totalCount
      pageInfo { ...PageInfoFields }
      nodes { ...IssueFields comments(first: $m) { totalCount nodes { ...CommentFields } } }
    }
    pullRequests(first: $n) @include(if: $withPRs) { totalCount nodes { ...PRFields } }
    releases(first: $m) { nodes { id name tagName publishedAt isPrerelease } }
    defaultBranchRef {
      name
      target { oid message committedDate additions deletions author { name email date } }
    }
  }
`;

/** Variables: realistic pages (5 items, 3 for the inner lists), and every list one item long. */
export const PAGES = { login: "octo", n: 5, m: 3, withPRs: true } as const;
export const ONE_EACH = { login: "octo", n: 1, m: 1, withPRs: true } as const;

/** Field selections in the document as written, and with every fragment spread expanded. */
export function fieldCounts(doc: DocumentNode): { written: number; expanded: number } {
  const fragments = new Map<string, SelectionSetNode>();
  let written = 0;
  const countWritten = (set: SelectionSetNode): void => {
    for (const s of set.selections) {
      if (s.kind === "Field") written++;
      if (s.kind !== "FragmentSpread" && s.selectionSet) countWritten(s.selectionSet);
    }
  };
  for (const d of doc.definitions) {
    if (d.kind === "FragmentDefinition") fragments.set(d.name.value, d.selectionSet);
    if (d.kind === "FragmentDefinition" || d.kind === "OperationDefinition") {
      countWritten(d.selectionSet);
    }
  }
  const expand = (set: SelectionSetNode): number => {
    let n = 0;
    for (const s of set.selections) {
      if (s.kind === "Field") n += 1 + (s.selectionSet ? expand(s.selectionSet) : 0);
      else if (s.kind === "InlineFragment") n += expand(s.selectionSet);
      else n += expand(fragments.get(s.name.value)!);
    }
    return n;
  };
  const op = doc.definitions.find((d) => d.kind === "OperationDefinition");
  return { written, expanded: op?.kind === "OperationDefinition" ? expand(op.selectionSet) : 0 };
}

type Args = { first?: number | null };
const POOL = 20;
const when = "2026-12-01T12:00:00Z";
const pageInfo = { hasNextPage: true, hasPreviousPage: false, startCursor: "c0", endCursor: "c9" };
const page = <T>(items: readonly T[], a: Args) => items.slice(0, Math.min(a.first ?? 10, POOL));
const conn = <T>(items: readonly T[]) => ({
  totalCount: 100,
  pageInfo,
  nodes: items,
});

// Pools built once; list fields are methods (graphql's default resolver calls them with the
// field's arguments), so the only work per field is the executor's own.
const users: object[] = [];
const repos: object[] = [];
const issues: object[] = [];
const labels = Array.from({ length: POOL }, (_, i) => ({
  id: `L_${i}`,
  name: `label-${i}`,
  color: "ededed",
  description: "a label",
}));
const languages = Array.from({ length: POOL }, (_, i) => ({
  id: `G_${i}`,
  name: `lang-${i}`,
  color: "#3178c6",
}));
const orgs = Array.from({ length: POOL }, (_, i) => ({
  __typename: "Organization",
  id: `O_${i}`,
  login: `org${i}`,
  name: `Org ${i}`,
  description: "an organisation",
  avatarUrl: "https://example.com/o.png",
  membersWithRole: (a: Args) => conn(page(users, a)),
}));
const releases = Array.from({ length: POOL }, (_, i) => ({
  id: `RE_${i}`,
  name: `v${i}`,
  tagName: `v${i}.0.0`,
  publishedAt: when,
  isPrerelease: false,
}));
const comments = Array.from({ length: POOL }, (_, i) => ({
  id: `C_${i}`,
  body: "a comment",
  createdAt: when,
  updatedAt: when,
  author: () => users[i % users.length],
}));
const reviews = Array.from({ length: POOL }, (_, i) => ({
  id: `RV_${i}`,
  state: "APPROVED",
  body: "looks good",
  submittedAt: when,
  author: () => users[i % users.length],
}));
const pulls = Array.from({ length: POOL }, (_, i) => ({
  __typename: "PullRequest",
  id: `PR_${i}`,
  number: i,
  title: `change ${i}`,
  state: "OPEN",
  additions: 10,
  deletions: 2,
  changedFiles: 3,
  createdAt: when,
  mergedAt: null,
  author: () => users[i % users.length],
  reviews: (a: Args) => conn(page(reviews, a)),
}));
for (let i = 0; i < POOL; i++) {
  users.push({
    __typename: "User",
    id: `U_${i}`,
    login: `user${i}`,
    name: `User ${i}`,
    email: `user${i}@example.com`,
    bio: "bio",
    company: "acme",
    location: "earth",
    avatarUrl: "https://example.com/u.png",
    websiteUrl: null,
    createdAt: when,
    isHireable: false,
    followers: (a: Args) => conn(page(users, a)),
    following: (a: Args) => conn(page(users, a)),
    repositories: (a: Args) => conn(page(repos, a)),
    organizations: (a: Args) => page(orgs, a),
  });
  repos.push({
    __typename: "Repository",
    id: `R_${i}`,
    name: `repo${i}`,
    nameWithOwner: `acme/repo${i}`,
    description: "a repository",
    url: "https://example.com/r",
    homepageUrl: null,
    stargazerCount: 1000,
    forkCount: 10,
    isPrivate: false,
    isFork: false,
    isArchived: false,
    createdAt: when,
    updatedAt: when,
    pushedAt: when,
    owner: () => users[i],
    primaryLanguage: languages[i],
    languages: (a: Args) => conn(page(languages, a)),
    issues: (a: Args) => conn(page(issues, a)),
    pullRequests: (a: Args) => conn(page(pulls, a)),
    releases: (a: Args) => conn(page(releases, a)),
    defaultBranchRef: {
      name: "main",
      target: {
        oid: "abc123",
        message: "a commit",
        committedDate: when,
        additions: 1,
        deletions: 1,
        author: { name: "a", email: "a@example.com", date: when },
      },
    },
  });
  issues.push({
    __typename: "Issue",
    id: `I_${i}`,
    number: i,
    title: `issue ${i}`,
    body: "it breaks",
    state: "OPEN",
    createdAt: when,
    closedAt: null,
    url: "https://example.com/i",
    author: () => users[i],
    labels: (a: Args) => conn(page(labels, a)),
    comments: (a: Args) => conn(page(comments, a)),
    assignees: (a: Args) => conn(page(users, a)),
  });
}

/** The root value: every Query field, resolved by graphql's default resolver. */
export const ROOT = {
  viewer: users[0],
  user: () => users[1],
  repository: () => repos[0],
  // A search mixes the union's three members.
  search: (a: Args) =>
    Array.from({ length: Math.min(a.first ?? 10, POOL) }, (_, i) =>
      i % 3 === 0 ? repos[i] : i % 3 === 1 ? users[i] : issues[i],
    ),
  node: () => repos[1],
};
