using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Engine.Cli;

/// <summary>
/// Turns System.CommandLine's parse errors into one line a person can act on: a value that does not
/// convert names its flag and the expected form in words (`--temperature expects a number, got 'abc'`),
/// an unknown command names itself and lists the commands, an unknown option or argument is named.
/// </summary>
internal static class ParseErrorText
{
    public static string Describe(ParseResult parsed)
    {
        if (UnknownCommand(parsed) is { } unknown) return unknown;
        foreach (var error in parsed.Errors)
            if (ConversionError(error) is { } conversion) return conversion;
        if (parsed.UnmatchedTokens.FirstOrDefault() is { } unmatched)
            return unmatched.StartsWith('-') ? $"unknown option '{unmatched}'" : $"unexpected argument '{unmatched}'";
        return OneLine(parsed.Errors[0].Message);
    }

    /// <summary>The message for `engine foo` (or `engine` alone): which command is unknown, and the commands there are.</summary>
    private static string? UnknownCommand(ParseResult parsed)
    {
        var command = parsed.CommandResult.Command;
        if (command.Subcommands.Count == 0 || command.Action is not null) return null;
        string names = string.Join(", ", command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name));
        string path = command is RootCommand ? "engine" : $"engine {command.Name}";
        string? first = parsed.UnmatchedTokens.FirstOrDefault();
        if (first is not null && !first.StartsWith('-'))
            return $"unknown command '{first}'; {path} has: {names}";
        return $"{path} needs a command: {names}";
    }

    /// <summary>For a value an option could not convert: the flag, what it expects in words, and what it got.</summary>
    private static string? ConversionError(ParseError error)
    {
        var option = error.SymbolResult switch
        {
            OptionResult o => o,
            ArgumentResult { Parent: OptionResult o } => o,
            _ => null,
        };
        if (option is null) return null;
        if (option.IdentifierToken is null) return $"{option.Option.Name} is required";
        Type type = Nullable.GetUnderlyingType(option.Option.ValueType) ?? option.Option.ValueType;
        if (type.IsArray) type = type.GetElementType()!;
        string? expected = ExpectedForm(type);
        if (expected is null) return null;
        string? bad = option.Tokens.Select(t => t.Value).FirstOrDefault(v => !Converts(v, type));
        if (bad is null)
            return option.Tokens.Count == 0 ? $"{option.Option.Name} expects {expected}, got nothing" : null;
        return $"{option.Option.Name} expects {expected}, got '{bad}'";
    }

    private static string? ExpectedForm(Type type) =>
        type == typeof(int) || type == typeof(long) ? "a whole number"
        : type == typeof(double) || type == typeof(float) ? "a number"
        : type == typeof(bool) ? "true or false"
        : type == typeof(string) ? "a value"
        : null;

    private static bool Converts(string value, Type type) =>
        type == typeof(int) ? int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)
        : type == typeof(long) ? long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)
        : type == typeof(double) || type == typeof(float) ? double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _)
        : type == typeof(bool) ? bool.TryParse(value, out _)
        : true;

    public static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();
}
