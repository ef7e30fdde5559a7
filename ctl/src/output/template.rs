//! A subset of Go's text/template, enough for Docker-style `--format` strings:
//! `{{.Field}}`, `{{.A.B}}`, `{{json .}}`, pipelines (`{{.Names | upper}}`), `if`/`else`/`range`/
//! `with`/`end`, trim markers (`{{-`, `-}}`), comments and Docker's template functions
//! (`json`, `join`, `split`, `lower`, `upper`, `title`, `truncate`, `pad`, `println`) plus Go's
//! `index`, `len`, `eq`, `ne`, `not`, `and`, `or`, `print`.
//!
//! Values are JSON values: printing follows Go's `%v` (`[a b]` for lists, `map[k:v]` for
//! objects, `<no value>` for missing fields).

use serde_json::Value;
use std::fmt;

/// A parse or execution error, worded like Go's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

fn parse_error(message: impl fmt::Display) -> TemplateError {
    TemplateError(format!("template parsing error: {message}"))
}

fn exec_error(message: impl fmt::Display) -> TemplateError {
    TemplateError(format!("template: {message}"))
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipeline),
    If {
        condition: Pipeline,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
    Range {
        over: Pipeline,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
    With {
        value: Pipeline,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
}

#[derive(Debug, Clone)]
struct Pipeline(Vec<Command>);

#[derive(Debug, Clone)]
struct Command(Vec<Operand>);

#[derive(Debug, Clone)]
enum Operand {
    Field(Vec<String>),
    Literal(Value),
    Function(String),
    Nested(Pipeline),
}

/// One `{{…}}` or the text between them.
#[derive(Debug)]
enum Piece<'a> {
    Text(String),
    Action(&'a str),
}

impl Template {
    /// Parses a template. Docker's `\t` and `\n` escapes in the format string become a tab and
    /// a newline first.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let source = source.replace("\\t", "\t").replace("\\n", "\n");
        let pieces = split_pieces(&source)?;
        let mut cursor = 0;
        let (nodes, terminator) = parse_nodes(&pieces, &mut cursor)?;
        match terminator {
            None => Ok(Template { nodes }),
            Some(word) => Err(parse_error(format!("unexpected {{{{{word}}}}}"))),
        }
    }

    /// Executes the template with `data` as dot.
    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        render_nodes(&self.nodes, data, &mut out)?;
        Ok(out)
    }
}

/// Splits the source into text and action pieces, applying trim markers.
fn split_pieces(source: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = source;
    let mut trim_next_text = false;
    while let Some(open) = rest.find("{{") {
        let mut text = &rest[..open];
        if trim_next_text {
            text = text.trim_start();
        }
        let after_open = &rest[open + 2..];
        let trim_before = after_open.starts_with("- ")
            || after_open.starts_with("-\t")
            || after_open.starts_with("-\n");
        if trim_before {
            text = text.trim_end();
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text.to_string()));
        }
        let close = find_close(after_open).ok_or_else(|| parse_error("unclosed action"))?;
        let mut inner = &after_open[..close];
        if trim_before {
            inner = &inner[1..];
        }
        trim_next_text = inner.ends_with(" -") || inner.ends_with("\t-") || inner.ends_with("\n-");
        if trim_next_text {
            inner = &inner[..inner.len() - 1];
        }
        let inner = inner.trim();
        if !(inner.starts_with("/*") && inner.ends_with("*/")) {
            pieces.push(Piece::Action(inner));
        }
        rest = &after_open[close + 2..];
    }
    let text = if trim_next_text {
        rest.trim_start()
    } else {
        rest
    };
    if !text.is_empty() {
        pieces.push(Piece::Text(text.to_string()));
    }
    Ok(pieces)
}

/// The position of the `}}` closing an action, skipping string literals.
fn find_close(action: &str) -> Option<usize> {
    let bytes = action.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Parses nodes until `end` or `else` (returned as the terminator) or the end of input.
fn parse_nodes(
    pieces: &[Piece<'_>],
    cursor: &mut usize,
) -> Result<(Vec<Node>, Option<String>), TemplateError> {
    let mut nodes = Vec::new();
    while let Some(piece) = pieces.get(*cursor) {
        *cursor += 1;
        let action = match piece {
            Piece::Text(text) => {
                nodes.push(Node::Text(text.clone()));
                continue;
            }
            Piece::Action(action) => *action,
        };
        let (keyword, rest) = split_keyword(action);
        match keyword {
            "end" | "else" => return Ok((nodes, Some(action.to_string()))),
            "if" | "range" | "with" => nodes.push(parse_block(keyword, rest, pieces, cursor)?),
            _ => nodes.push(Node::Action(parse_pipeline(action)?)),
        }
    }
    Ok((nodes, None))
}

fn split_keyword(action: &str) -> (&str, &str) {
    let end = action.find(char::is_whitespace).unwrap_or(action.len());
    (&action[..end], action[end..].trim_start())
}

/// Parses the body (and `else` branch) of an `if`, `range` or `with` whose header was just read.
fn parse_block(
    keyword: &str,
    header: &str,
    pieces: &[Piece<'_>],
    cursor: &mut usize,
) -> Result<Node, TemplateError> {
    let pipeline = parse_pipeline(header)?;
    let (body, terminator) = parse_nodes(pieces, cursor)?;
    let terminator =
        terminator.ok_or_else(|| parse_error(format!("unexpected EOF in {keyword}")))?;
    let otherwise = if terminator == "end" {
        Vec::new()
    } else {
        let (_, after_else) = split_keyword(&terminator);
        let (chained, chained_header) = split_keyword(after_else);
        if chained == "if" && keyword == "if" {
            // `{{else if X}}` is an `if` nested in the else branch that shares the `end`.
            vec![parse_block("if", chained_header, pieces, cursor)?]
        } else if !after_else.is_empty() {
            return Err(parse_error(format!("unexpected {{{{{terminator}}}}}")));
        } else {
            let (otherwise, end) = parse_nodes(pieces, cursor)?;
            if end.as_deref() != Some("end") {
                return Err(parse_error(format!("expected end in {keyword}")));
            }
            otherwise
        }
    };
    Ok(match keyword {
        "if" => Node::If {
            condition: pipeline,
            then: body,
            otherwise,
        },
        "range" => Node::Range {
            over: pipeline,
            body,
            otherwise,
        },
        _ => Node::With {
            value: pipeline,
            body,
            otherwise,
        },
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Field(Vec<String>),
    Literal(Value),
    Ident(String),
    Pipe,
    Open,
    Close,
}

fn tokenize(action: &str) -> Result<Vec<Token>, TemplateError> {
    let chars: Vec<char> = action.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '|' => {
                tokens.push(Token::Pipe);
                i += 1;
            }
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '.' => {
                let mut path = Vec::new();
                while chars.get(i) == Some(&'.') {
                    let start = i + 1;
                    i = start;
                    while chars
                        .get(i)
                        .is_some_and(|c| c.is_alphanumeric() || *c == '_')
                    {
                        i += 1;
                    }
                    if i == start {
                        if !path.is_empty()
                            || chars
                                .get(i)
                                .is_some_and(|c| !c.is_whitespace() && !matches!(c, '|' | ')'))
                        {
                            return Err(parse_error(format!("bad field in \"{action}\"")));
                        }
                        break;
                    }
                    path.push(chars[start..i].iter().collect());
                }
                tokens.push(Token::Field(path));
            }
            '"' => {
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(parse_error("unterminated quoted string")),
                        Some('"') => break,
                        Some('\\') => {
                            i += 1;
                            text.push(match chars.get(i) {
                                Some('n') => '\n',
                                Some('t') => '\t',
                                Some('\\') => '\\',
                                Some('"') => '"',
                                _ => return Err(parse_error("bad escape in quoted string")),
                            });
                        }
                        Some(c) => text.push(*c),
                    }
                    i += 1;
                }
                i += 1;
                tokens.push(Token::Literal(Value::String(text)));
            }
            '`' => {
                let start = i + 1;
                let end = chars[start..]
                    .iter()
                    .position(|c| *c == '`')
                    .ok_or_else(|| parse_error("unterminated raw quoted string"))?;
                tokens.push(Token::Literal(Value::String(
                    chars[start..start + end].iter().collect(),
                )));
                i = start + end + 1;
            }
            c if c.is_ascii_digit() || c == '-' => {
                let start = i;
                i += 1;
                while chars
                    .get(i)
                    .is_some_and(|c| c.is_ascii_digit() || *c == '.')
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let number = text
                    .parse::<i64>()
                    .map(Value::from)
                    .or_else(|_| text.parse::<f64>().map(Value::from))
                    .map_err(|_| parse_error(format!("bad number syntax: {text:?}")))?;
                tokens.push(Token::Literal(number));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while chars
                    .get(i)
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                tokens.push(match word.as_str() {
                    "true" => Token::Literal(Value::Bool(true)),
                    "false" => Token::Literal(Value::Bool(false)),
                    "nil" => Token::Literal(Value::Null),
                    _ => Token::Ident(word),
                });
            }
            other => return Err(parse_error(format!("unexpected {other:?} in operand"))),
        }
    }
    Ok(tokens)
}

fn parse_pipeline(action: &str) -> Result<Pipeline, TemplateError> {
    let tokens = tokenize(action)?;
    let mut position = 0;
    let pipeline = parse_tokens(&tokens, &mut position)?;
    if position != tokens.len() {
        return Err(parse_error(format!("unexpected ) in \"{action}\"")));
    }
    Ok(pipeline)
}

fn parse_tokens(tokens: &[Token], position: &mut usize) -> Result<Pipeline, TemplateError> {
    let mut commands = Vec::new();
    let mut operands = Vec::new();
    while let Some(token) = tokens.get(*position) {
        *position += 1;
        match token {
            Token::Pipe => {
                if operands.is_empty() {
                    return Err(parse_error("missing command before |"));
                }
                commands.push(Command(std::mem::take(&mut operands)));
            }
            Token::Close => {
                *position -= 1;
                break;
            }
            Token::Open => {
                let nested = parse_tokens(tokens, position)?;
                if tokens.get(*position) != Some(&Token::Close) {
                    return Err(parse_error("unclosed left paren"));
                }
                *position += 1;
                operands.push(Operand::Nested(nested));
            }
            Token::Field(path) => operands.push(Operand::Field(path.clone())),
            Token::Literal(value) => operands.push(Operand::Literal(value.clone())),
            Token::Ident(name) => {
                if !is_function(name) {
                    return Err(parse_error(format!("function \"{name}\" not defined")));
                }
                operands.push(Operand::Function(name.clone()));
            }
        }
    }
    if operands.is_empty() {
        return Err(parse_error("missing value for command"));
    }
    commands.push(Command(operands));
    Ok(Pipeline(commands))
}

const FUNCTIONS: &[&str] = &[
    "json", "join", "split", "lower", "upper", "title", "truncate", "pad", "println", "print",
    "index", "len", "eq", "ne", "not", "and", "or",
];

fn is_function(name: &str) -> bool {
    FUNCTIONS.contains(&name)
}

fn render_nodes(nodes: &[Node], dot: &Value, out: &mut String) -> Result<(), TemplateError> {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Action(pipeline) => out.push_str(&print_value(&eval_pipeline(pipeline, dot)?)),
            Node::If {
                condition,
                then,
                otherwise,
            } => {
                let branch = if truthy(&eval_pipeline(condition, dot)?) {
                    then
                } else {
                    otherwise
                };
                render_nodes(branch, dot, out)?;
            }
            Node::With {
                value,
                body,
                otherwise,
            } => {
                let value = eval_pipeline(value, dot)?;
                if truthy(&value) {
                    render_nodes(body, &value, out)?;
                } else {
                    render_nodes(otherwise, dot, out)?;
                }
            }
            Node::Range {
                over,
                body,
                otherwise,
            } => {
                let items: Vec<Value> = match eval_pipeline(over, dot)? {
                    Value::Array(items) => items,
                    Value::Object(map) => {
                        let mut entries: Vec<_> = map.into_iter().collect();
                        entries.sort_by(|a, b| a.0.cmp(&b.0));
                        entries.into_iter().map(|(_, v)| v).collect()
                    }
                    Value::Null => Vec::new(),
                    other => {
                        return Err(exec_error(format!(
                            "range can't iterate over {}",
                            print_value(&other)
                        )))
                    }
                };
                if items.is_empty() {
                    render_nodes(otherwise, dot, out)?;
                }
                for item in &items {
                    render_nodes(body, item, out)?;
                }
            }
        }
    }
    Ok(())
}

fn eval_pipeline(pipeline: &Pipeline, dot: &Value) -> Result<Value, TemplateError> {
    let mut piped: Option<Value> = None;
    for command in &pipeline.0 {
        piped = Some(eval_command(command, dot, piped)?);
    }
    Ok(piped.unwrap_or(Value::Null))
}

fn eval_command(
    command: &Command,
    dot: &Value,
    piped: Option<Value>,
) -> Result<Value, TemplateError> {
    let (first, rest) = command
        .0
        .split_first()
        .ok_or_else(|| exec_error("empty command"))?;
    if let Operand::Function(name) = first {
        let mut args = rest
            .iter()
            .map(|operand| eval_operand(operand, dot))
            .collect::<Result<Vec<_>, _>>()?;
        args.extend(piped);
        return call(name, args);
    }
    if !rest.is_empty() || piped.is_some() {
        return Err(exec_error("can't give argument to non-function"));
    }
    eval_operand(first, dot)
}

fn eval_operand(operand: &Operand, dot: &Value) -> Result<Value, TemplateError> {
    match operand {
        Operand::Field(path) => Ok(path.iter().fold(dot.clone(), |value, key| match value {
            Value::Object(mut map) => map.remove(key).unwrap_or(Value::Null),
            _ => Value::Null,
        })),
        Operand::Literal(value) => Ok(value.clone()),
        Operand::Function(name) => call(name, Vec::new()),
        Operand::Nested(pipeline) => eval_pipeline(pipeline, dot),
    }
}

fn call(name: &str, args: Vec<Value>) -> Result<Value, TemplateError> {
    let wrong_count = || {
        exec_error(format!(
            "wrong number of args for {name}: got {}",
            args.len()
        ))
    };
    let text = |value: &Value| print_value(value);
    let number = |value: &Value| -> Result<i64, TemplateError> {
        value.as_i64().ok_or_else(|| {
            exec_error(format!(
                "{name}: expected an integer, got {}",
                print_value(value)
            ))
        })
    };
    Ok(match (name, args.as_slice()) {
        ("json", [value]) => Value::String(serde_json::to_string(value).map_err(exec_error)?),
        ("join", [Value::Array(items), separator]) => {
            let parts: Vec<String> = items.iter().map(text).collect();
            Value::String(parts.join(&text(separator)))
        }
        ("join", [Value::Null, _]) => Value::String(String::new()),
        ("split", [value, separator]) => Value::Array(
            text(value)
                .split(text(separator).as_str())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
        ("lower", [value]) => Value::String(text(value).to_lowercase()),
        ("upper", [value]) => Value::String(text(value).to_uppercase()),
        ("title", [value]) => Value::String(title_case(&text(value))),
        ("truncate", [value, length]) => {
            let length = usize::try_from(number(length)?).unwrap_or(0);
            Value::String(text(value).chars().take(length).collect())
        }
        ("pad", [value, left, right]) => {
            let spaces = |n: &Value| number(n).map(|n| " ".repeat(usize::try_from(n).unwrap_or(0)));
            Value::String(format!(
                "{}{}{}",
                spaces(left)?,
                text(value),
                spaces(right)?
            ))
        }
        ("println", _) => Value::String(format!(
            "{}\n",
            args.iter().map(text).collect::<Vec<_>>().join(" ")
        )),
        ("print", _) => Value::String(args.iter().map(text).collect::<Vec<_>>().join(" ")),
        ("index", [value, keys @ ..]) => {
            let mut current = value.clone();
            for key in keys {
                current = match (current, key) {
                    (Value::Object(mut map), key) => map.remove(&text(key)).unwrap_or(Value::Null),
                    (Value::Array(items), key) => {
                        let position = usize::try_from(number(key)?)
                            .map_err(|_| exec_error("index out of range"))?;
                        items
                            .into_iter()
                            .nth(position)
                            .ok_or_else(|| exec_error("index out of range"))?
                    }
                    (Value::Null, _) => Value::Null,
                    (other, _) => {
                        return Err(exec_error(format!(
                            "can't index item of type {}",
                            kind(&other)
                        )))
                    }
                };
            }
            current
        }
        ("len", [value]) => Value::from(match value {
            Value::Array(items) => items.len(),
            Value::Object(map) => map.len(),
            Value::String(s) => s.len(),
            Value::Null => 0,
            other => return Err(exec_error(format!("len of type {}", kind(other)))),
        }),
        ("eq", [first, others @ ..]) if !others.is_empty() => {
            Value::Bool(others.iter().any(|o| o == first))
        }
        ("ne", [a, b]) => Value::Bool(a != b),
        ("not", [value]) => Value::Bool(!truthy(value)),
        ("and", [_, ..]) => args
            .iter()
            .find(|v| !truthy(v))
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Null),
        ("or", [_, ..]) => args
            .iter()
            .find(|v| truthy(v))
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Null),
        _ => return Err(wrong_count()),
    })
}

fn title_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at_word_start = true;
    for c in text.chars() {
        if at_word_start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_word_start = !c.is_alphanumeric();
    }
    out
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

/// Go's truth: false, 0, nil and empty strings, lists and maps are false.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// Go's `%v` of a decoded JSON value.
pub fn print_value(value: &Value) -> String {
    match value {
        Value::Null => "<no value>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(print_nested).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{k}:{}", print_nested(v)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Inside a list or map Go prints a nil as `<nil>`.
fn print_nested(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        other => print_value(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn render(template: &str, data: &Value) -> String {
        Template::parse(template).unwrap().render(data).unwrap()
    }

    fn sample() -> Value {
        json!({
            "Id": "abc",
            "State": {"Status": "running", "Pid": 42, "Running": true, "ExitCode": 0},
            "Config": {"Env": ["A=1", "B=2"], "Labels": {"app": "demo", "tier": "web"}, "Entrypoint": null},
            "Names": "web"
        })
    }

    #[test]
    fn fields_and_nesting() {
        let data = sample();
        assert_eq!(render("{{.Id}}", &data), "abc");
        assert_eq!(
            render("{{.State.Status}} {{.State.Pid}} {{.State.Running}}", &data),
            "running 42 true"
        );
        assert_eq!(render("{{ .State.Status }}", &data), "running");
        assert_eq!(render("{{.Missing}}", &data), "<no value>");
        assert_eq!(render("{{.Config.Env}}", &data), "[A=1 B=2]");
        assert_eq!(
            render("{{.Config.Labels}}", &data),
            "map[app:demo tier:web]"
        );
        assert_eq!(
            render("id={{.Id}}\\tname={{.Names}}\\n", &data),
            "id=abc\tname=web\n"
        );
    }

    #[test]
    fn json_function() {
        let data = sample();
        assert_eq!(render("{{json .Config.Env}}", &data), r#"["A=1","B=2"]"#);
        assert_eq!(render("{{json .State.Status}}", &data), r#""running""#);
        assert_eq!(render("{{json .Config.Entrypoint}}", &data), "null");
        let whole: Value = serde_json::from_str(&render("{{json .}}", &data)).unwrap();
        assert_eq!(whole, data);
    }

    #[test]
    fn functions_and_pipelines() {
        let data = sample();
        assert_eq!(render("{{join .Config.Env \",\"}}", &data), "A=1,B=2");
        assert_eq!(render("{{.Names | upper}}", &data), "WEB");
        assert_eq!(render("{{upper .Names | lower}}", &data), "web");
        assert_eq!(render("{{index .Config.Labels \"app\"}}", &data), "demo");
        assert_eq!(render("{{index .Config.Env 1}}", &data), "B=2");
        assert_eq!(render("{{len .Config.Env}}", &data), "2");
        assert_eq!(render("{{title \"hello world\"}}", &data), "Hello World");
        assert_eq!(render("{{truncate .Id 2}}", &data), "ab");
        assert_eq!(render("{{pad .Id 1 2}}|", &data), " abc  |");
        assert_eq!(render("{{split \"a:b\" \":\"}}", &data), "[a b]");
        assert_eq!(render("{{(index .Config.Env 0) | lower}}", &data), "a=1");
        assert_eq!(render("{{println .Id}}", &data), "abc\n");
    }

    #[test]
    fn control_flow() {
        let data = sample();
        assert_eq!(
            render("{{if .State.Running}}up{{else}}down{{end}}", &data),
            "up"
        );
        assert_eq!(
            render(
                "{{if .State.ExitCode}}bad{{else if .State.Running}}ok{{else}}no{{end}}",
                &data
            ),
            "ok"
        );
        assert_eq!(
            render(
                "{{if eq .State.Status \"exited\" \"running\"}}y{{end}}",
                &data
            ),
            "y"
        );
        assert_eq!(
            render("{{if not .State.Running}}y{{else}}n{{end}}", &data),
            "n"
        );
        assert_eq!(
            render("{{range .Config.Env}}[{{.}}]{{end}}", &data),
            "[A=1][B=2]"
        );
        assert_eq!(
            render("{{range .Config.Entrypoint}}x{{else}}none{{end}}", &data),
            "none"
        );
        assert_eq!(
            render("{{with .State}}{{.Status}}{{end}}", &data),
            "running"
        );
        assert_eq!(render("a  {{- .Id -}}  b", &data), "aabcb");
        assert_eq!(render("{{/* a comment */}}x", &data), "x");
    }

    #[test]
    fn errors() {
        for bad in [
            "{{",
            "{{.Id",
            "{{if .Id}}",
            "{{end}}",
            "{{bogus .Id}}",
            "{{.Id | }}",
            "{{\"x}}",
            "{{(.Id}}",
            "{{.Id)}}",
            "{{.A..B}}",
            "{{else}}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad} parsed");
        }
        let data = sample();
        assert!(Template::parse("{{.Id .Id}}")
            .unwrap()
            .render(&data)
            .is_err());
        assert!(Template::parse("{{index .Config.Env 5}}")
            .unwrap()
            .render(&data)
            .is_err());
        assert!(Template::parse("{{range .Id}}{{end}}")
            .unwrap()
            .render(&data)
            .is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(source in "\\PC{0,48}") {
            if let Ok(template) = Template::parse(&source) {
                let _ = template.render(&sample());
            }
        }

        #[test]
        fn template_like_input_never_panics(source in "(\\{\\{-? ?|[ .A-Za-z|()\"`0-9]|-? ?\\}\\}){0,24}") {
            if let Ok(template) = Template::parse(&source) {
                let _ = template.render(&sample());
            }
        }

        #[test]
        fn plain_text_is_kept(text in "[^{}\\\\]{0,40}") {
            prop_assert_eq!(render(&text, &sample()), text);
        }
    }
}
