//! Lexer for a small expression language: numbers, identifiers, string literals,
//! operators and punctuation, with line and column positions for errors.

use std::fmt;
use std::iter::Peekable;
use std::str::CharIndices;

#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    Number(f64),
    Ident(String),
    Str(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    Eof,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub line: u32,
    pub column: u32,
    pub offset: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LexError {
    pub message: String,
    pub span: Span,
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.span.line, self.span.column, self.message)
    }
}

impl std::error::Error for LexError {}

// Two-character operators first, so that the longest match wins.
const OPERATORS: [&str; 15] = ["==", "!=", "<=", ">=", "&&", "||", "+", "-", "*", "/", "%", "<", ">", "=", "!"];

pub struct Lexer<'a> {
    source: &'a str,
    chars: Peekable<CharIndices<'a>>,
    line: u32,
    column: u32,
}

impl<'a> Lexer<'a> {
    pub fn new(source: &'a str) -> Self {
        Lexer { source, chars: source.char_indices().peekable(), line: 1, column: 1 }
    }

    pub fn tokenize(mut self) -> Result<Vec<Token>, LexError> {
        let mut tokens = Vec::new();
        loop {
            let token = self.next_token()?;
            let done = token.kind == TokenKind::Eof;
            tokens.push(token);
            if done {
                return Ok(tokens);
            }
        }
    }

    pub fn next_token(&mut self) -> Result<Token, LexError> {
        self.skip_whitespace_and_comments();
        let span = self.span();
        let Some(&(start, c)) = self.chars.peek() else {
            return Ok(Token { kind: TokenKind::Eof, span });
        };
        let kind = if c.is_ascii_digit() {
            self.number(start, span)?
        } else if c.is_alphabetic() || c == '_' {
            TokenKind::Ident(self.take_while(start, |c| c.is_alphanumeric() || c == '_').to_string())
        } else if c == '"' {
            self.string(span)?
        } else {
            self.punctuation(start, span)?
        };
        Ok(Token { kind, span })
    }

    fn span(&mut self) -> Span {
        let offset = self.chars.peek().map_or(self.source.len(), |&(i, _)| i);
        Span { line: self.line, column: self.column, offset }
    }

    fn bump(&mut self) -> Option<char> {
        let (_, c) = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn take_while(&mut self, start: usize, mut keep: impl FnMut(char) -> bool) -> &'a str {
        let mut end = start;
        while let Some(&(i, c)) = self.chars.peek() {
            if !keep(c) {
                break;
            }
            end = i + c.len_utf8();
            self.bump();
        }
        &self.source[start..end]
    }

    fn skip_whitespace_and_comments(&mut self) {
        loop {
            match self.chars.peek() {
                Some(&(_, c)) if c.is_whitespace() => {
                    self.bump();
                }
                Some(&(i, '#')) => {
                    self.take_while(i, |c| c != '\n');
                }
                _ => return,
            }
        }
    }

    fn number(&mut self, start: usize, span: Span) -> Result<TokenKind, LexError> {
        let mut seen_dot = false;
        let text = self.take_while(start, |c| {
            if c == '.' && !seen_dot {
                seen_dot = true;
                return true;
            }
            c.is_ascii_digit() || c == '_'
        });
        let digits: String = text.chars().filter(|&c| c != '_').collect();
        digits.parse::<f64>().map(TokenKind::Number).map_err(|_| LexError {
            message: format!("invalid number literal {:?}", text),
            span,
        })
    }

    fn string(&mut self, span: Span) -> Result<TokenKind, LexError> {
        self.bump(); // the opening quote
        let mut value = String::new();
        loop {
            match self.bump() {
                None => return Err(LexError { message: "unterminated string literal".into(), span }),
                Some('"') => return Ok(TokenKind::Str(value)),
                Some('\\') => {
                    let escaped = match self.bump() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('\\') => '\\',
                        Some('"') => '"',
                        Some(other) => {
                            let message = format!("unknown escape sequence \\{}", other);
                            return Err(LexError { message, span: self.span() });
                        }
                        None => return Err(LexError { message: "unterminated string literal".into(), span }),
                    };
                    value.push(escaped);
                }
                Some(c) => value.push(c),
            }
        }
    }

    fn punctuation(&mut self, start: usize, span: Span) -> Result<TokenKind, LexError> {
        let rest = &self.source[start..];
        let found = match rest.chars().next() {
            Some('(') => Some((TokenKind::LParen, 1)),
            Some(')') => Some((TokenKind::RParen, 1)),
            Some(',') => Some((TokenKind::Comma, 1)),
            _ => OPERATORS.iter().find(|op| rest.starts_with(**op)).map(|&op| (TokenKind::Op(op), op.len())),
        };
        let Some((kind, len)) = found else {
            let c = rest.chars().next().unwrap_or('\0');
            return Err(LexError { message: format!("unexpected character {:?}", c), span });
        };
        for _ in 0..len {
            self.bump();
        }
        Ok(kind)
    }
}

