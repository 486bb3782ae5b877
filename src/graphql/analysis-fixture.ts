/**
 * Test support only (never imported by the library): the schema the analysis tests price
 * documents against, and graphql 16 and 17 side by side, so every table runs on both majors.
 */
import * as graphql16 from "graphql";
import * as graphql17 from "graphql17";

export const SDL = /* GraphQL */ `
  directive @cost(weight: Int, defaultListSize: Int) on FIELD_DEFINITION

  interface Node {
    id: ID!
  }
  type User implements Node {
    id: ID!
    name: String
    friends(first: Int, last: Int): [User!]!
    posts(limit: Int = 20): [Post!]!
    best: Post
    matrix(first: Int): [[Int]]
    grid(first: Int): [[User]]
  }
  type Post implements Node {
    id: ID!
    title: String
    author: User!
    comments(last: Int): [Comment] @cost(weight: 2, defaultListSize: 3)
    tags: [String!]!
  }
  type Comment {
    id: ID!
    body: String
    author: User
  }
  union SearchResult = User | Post | Comment
  type Query {
    me: User
    user(id: ID!): User
    users(first: Int): [User!]!
    search(first: Int): [SearchResult!]!
    node(id: ID!): Node
    nodes(first: Int): [Node!]!
    expensive: Int @cost(weight: 50)
  }
  type Mutation {
    like(id: ID!): Post
  }
`;

export const MAJORS: readonly (readonly [string, typeof graphql16 | typeof graphql17])[] = [
  ["graphql 16", graphql16],
  ["graphql 17", graphql17],
];
