using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace RsMoe.ServiceDefaults;

/// <summary>
/// Every service binds its configuration sections here: bound, then checked against the options' annotations (and
/// <see cref="IValidatableObject"/>) before the service starts, so a bad setting stops the start with a message naming
/// the setting rather than surfacing later as a failed request.
/// </summary>
public static class ValidatedOptions
{
    public static T Bind<T>(IConfiguration configuration, string section) where T : class, new()
    {
        var options = configuration.GetSection(section).Get<T>() ?? new T();
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true))
            throw new OptionsValidationException(section, typeof(T),
                results.Select(r => $"{section}:{string.Join(",", r.MemberNames)}: {r.ErrorMessage}").ToList());
        return options;
    }
}

/// <summary>Ranges the options share.</summary>
public static class OptionRanges
{
    /// <summary>A positive duration up to a day.</summary>
    public const string MinDuration = "00:00:00.001", MaxDuration = "1.00:00:00";
}
