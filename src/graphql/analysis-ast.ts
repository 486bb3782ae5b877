/**
 * The few AST and schema shapes the analysis reads, declared structurally so one build walks
 * documents and schemas of graphql 16 and 17 alike (their classes differ, their shapes do not):
 * nodes are told apart by their `kind` strings, types by their `Symbol.toStringTag`.
 */

export type NameNode = { readonly value: string };

/** A literal or a variable: IntValue, FloatValue, BooleanValue, NullValue, Variable, ... */
export type ValueNode = {
  readonly kind: string;
  readonly value?: unknown;
  readonly name?: NameNode;
};

export type ArgumentNode = { readonly name: NameNode; readonly value: ValueNode };

export type DirectiveNode = {
  readonly name: NameNode;
  readonly arguments?: readonly ArgumentNode[] | undefined;
};

export type SelectionSetNode = { readonly selections: readonly SelectionNode[] };

/** A Field, InlineFragment or FragmentSpread (the optional members tell which apply). */
export type SelectionNode = {
  readonly kind: string;
  readonly name?: NameNode;
  readonly alias?: NameNode | undefined;
  readonly arguments?: readonly ArgumentNode[] | undefined;
  readonly directives?: readonly DirectiveNode[] | undefined;
  readonly selectionSet?: SelectionSetNode | undefined;
  readonly typeCondition?: { readonly name: NameNode } | undefined;
};

export type VariableDefinitionNode = {
  readonly variable: { readonly name: NameNode };
  readonly defaultValue?: ValueNode | undefined;
};

export type OperationNode = {
  readonly kind: "OperationDefinition";
  readonly operation: string;
  readonly name?: NameNode | undefined;
  readonly variableDefinitions?: readonly VariableDefinitionNode[] | undefined;
  readonly selectionSet: SelectionSetNode;
};

export type FragmentNode = {
  readonly kind: "FragmentDefinition";
  readonly name: NameNode;
  /** graphql 17's fragment arguments (`fragment F($n: Int = 2) on T`), when enabled. */
  readonly variableDefinitions?: readonly VariableDefinitionNode[] | undefined;
  readonly typeCondition: { readonly name: NameNode };
  readonly selectionSet: SelectionSetNode;
};

/** A GraphQL type object (named or a List/NonNull wrapper). */
export type GqlType = {
  readonly name?: string;
  readonly ofType?: GqlType;
  getFields?(): Readonly<Record<string, GqlField>>;
};

export type GqlArgument = {
  readonly name: string;
  /** graphql 16 (and 17's deprecated copy): the coerced default. */
  readonly defaultValue?: unknown;
  /** graphql 17: `{ value }` or `{ literal }`. */
  readonly default?: { readonly value?: unknown; readonly literal?: ValueNode } | undefined;
};

export type GqlField = {
  readonly name: string;
  readonly type: GqlType;
  readonly args?: readonly GqlArgument[];
  readonly astNode?: { readonly directives?: readonly DirectiveNode[] | undefined } | null;
  readonly extensions?: Readonly<Record<string, unknown>> | null;
};

/** The schema methods common to graphql 16 and 17 that the analysis uses. */
export type GqlSchema = {
  getType(name: string): GqlType | null | undefined;
  getQueryType(): GqlType | null | undefined;
  getMutationType(): GqlType | null | undefined;
  getSubscriptionType(): GqlType | null | undefined;
  getPossibleTypes(abstractType: GqlType): readonly GqlType[];
  isSubType(abstractType: GqlType, maybeSubType: GqlType): boolean;
};

/** The schema, checked for the methods the walk calls (a wrong argument fails here, clearly). */
export function asSchema(schema: unknown, where: string): GqlSchema {
  const s = schema as Partial<GqlSchema> | null;
  if (
    typeof s !== "object" ||
    s === null ||
    typeof s.getType !== "function" ||
    typeof s.getQueryType !== "function" ||
    typeof s.getPossibleTypes !== "function" ||
    typeof s.isSubType !== "function"
  ) {
    throw new TypeError(`${where}: schema must be a GraphQLSchema (graphql 16 or 17)`);
  }
  return s as GqlSchema;
}

/** A literal's number (Int and Float literals), or undefined. */
export function literalNumber(node: ValueNode): number | undefined {
  if (node.kind === "IntValue" || node.kind === "FloatValue") return Number(node.value);
  return undefined;
}
