namespace RsMoe.Data.Synthetic;

/// <summary>Theme and object vocabulary, in the words real remote-sensing captions (RSICap) use.</summary>
public static class Vocabulary
{
    public static readonly string[] Themes = ["residential", "industrial", "airport", "harbor", "farmland", "river", "parking lot", "forest", "sports ground"];

    public static readonly Dictionary<string, string[]> ThemeNames = new()
    {
        ["residential"] = ["a residential area", "a residential neighborhood", "a housing estate", "a suburban residential area"],
        ["industrial"] = ["an industrial area", "an industrial zone", "a factory area", "an industrial park"],
        ["airport"] = ["an airport", "an airfield", "part of an airport"],
        ["harbor"] = ["a harbor", "a port", "a harbor area", "a dock area"],
        ["farmland"] = ["farmland", "an agricultural area", "cultivated farmland", "a farming area"],
        ["river"] = ["a river area", "a river running through the land", "a riverside area"],
        ["parking lot"] = ["a parking lot", "a large parking lot", "a car park"],
        ["forest"] = ["a forest", "a wooded area", "a dense forest area"],
        ["sports ground"] = ["a sports ground", "a sports complex", "a playground with sports courts"],
    };

    public static readonly Dictionary<string, (string Singular, string Plural)> ClassNames = new()
    {
        ["building"] = ("building", "buildings"), ["tree"] = ("tree", "trees"), ["car"] = ("car", "cars"), ["plane"] = ("plane", "planes"),
        ["ship"] = ("ship", "ships"), ["storage tank"] = ("storage tank", "storage tanks"), ["swimming pool"] = ("swimming pool", "swimming pools"),
        ["court"] = ("tennis court", "tennis courts"), ["field"] = ("field", "fields"), ["road"] = ("road", "roads"), ["river"] = ("river", "rivers"),
    };

    /// <summary>Which object classes a theme shows, with (min, max) groups of each.</summary>
    public static readonly Dictionary<string, (string Class, int Min, int Max)[]> ThemeObjects = new()
    {
        ["residential"] = [("building", 2, 3), ("tree", 1, 2), ("car", 0, 1), ("swimming pool", 0, 1)],
        ["industrial"] = [("building", 1, 2), ("storage tank", 1, 2), ("car", 0, 1), ("tree", 0, 1)],
        ["airport"] = [("plane", 1, 2), ("building", 0, 1), ("car", 0, 1)],
        ["harbor"] = [("ship", 1, 3), ("storage tank", 0, 1), ("building", 0, 1)],
        ["farmland"] = [("field", 2, 3), ("tree", 0, 2), ("building", 0, 1)],
        ["river"] = [("tree", 1, 2), ("field", 0, 2), ("building", 0, 1)],
        ["parking lot"] = [("car", 2, 3), ("tree", 0, 1), ("building", 0, 1)],
        ["forest"] = [("tree", 2, 3), ("building", 0, 1)],
        ["sports ground"] = [("court", 1, 2), ("tree", 1, 2), ("building", 0, 1), ("car", 0, 1)],
    };

    public static readonly Dictionary<string, string[]> ClassColours = new()
    {
        ["building"] = ["red", "white", "gray", "blue", "brown"],
        ["tree"] = ["green", "dark green"],
        ["car"] = ["white", "black", "red", "blue", "gray"],
        ["plane"] = ["white", "gray"],
        ["ship"] = ["white", "gray", "red"],
        ["storage tank"] = ["white", "gray"],
        ["swimming pool"] = ["blue"],
        ["court"] = ["green", "blue", "red"],
        ["field"] = ["green", "yellow", "brown"],
    };

    public static readonly Dictionary<string, (byte R, byte G, byte B)> Rgb = new()
    {
        ["red"] = (170, 60, 50), ["white"] = (225, 225, 220), ["gray"] = (130, 130, 130), ["blue"] = (60, 100, 170),
        ["brown"] = (125, 85, 55), ["green"] = (70, 120, 55), ["dark green"] = (35, 75, 35), ["black"] = (30, 30, 32),
        ["yellow"] = (200, 180, 90),
    };

    static readonly string[] Numbers = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"];

    public static string NumberWord(int n) => n >= 0 && n < Numbers.Length ? Numbers[n] : n.ToString();

    public static string Name(string cls, int count) => count == 1 ? ClassNames[cls].Singular : ClassNames[cls].Plural;

    public static T Pick<T>(this Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];
}
