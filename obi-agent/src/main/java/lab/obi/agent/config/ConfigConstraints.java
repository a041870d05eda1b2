package lab.obi.agent.config;

import io.smallrye.config.ConfigValidationException;
import io.smallrye.config.ConfigValidator;
import io.smallrye.config.SmallRyeConfigBuilder;
import io.smallrye.config.SmallRyeConfigBuilderCustomizer;
import io.smallrye.config.WithName;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.Positive;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Checks the constraints declared on {@link AgentConfig} when SmallRye Config builds it, in Bean
 * Validation's words ("obi.capture.request-head-bytes must be greater than or equal to 64"):
 * {@code @Min}, {@code @Max}, {@code @Positive} (on a Duration: longer than zero), {@code @DecimalMin},
 * {@code @DecimalMax} and {@link PowerOfTwo}. Hibernate Validator did this before; its ~400 classes,
 * loaded for these checks at start-up, stayed for the agent's life: 7-8 MiB of its resident memory
 * at saturation (measured with and without it), for a handful of comparisons.
 */
public final class ConfigConstraints implements ConfigValidator {

    /** Registered through META-INF/services: Quarkus adds it when it builds the configuration. */
    public static final class Registration implements SmallRyeConfigBuilderCustomizer {
        @Override
        public void configBuilder(SmallRyeConfigBuilder builder) {
            builder.withValidator(new ConfigConstraints());
        }
    }

    @Override
    public void validateMapping(Class<?> mappingClass, String prefix, Object mapping) {
        if (mappingClass != AgentConfig.class) {
            return; // Quarkus's own mappings
        }
        List<String> problems = violations(mappingClass, prefix, mapping);
        if (!problems.isEmpty()) {
            throw new ConfigValidationException(problems.stream()
                    .map(ConfigValidationException.Problem::new)
                    .toArray(ConfigValidationException.Problem[]::new));
        }
    }

    /** "property message" for each constraint a value breaks, in the order of the properties' names. */
    static List<String> violations(Class<?> group, String prefix, Object values) {
        List<String> problems = new ArrayList<>();
        collect(group, prefix, values, problems);
        problems.sort(null);
        return problems;
    }

    private static void collect(Class<?> group, String prefix, Object values, List<String> problems) {
        for (Method property : group.getMethods()) {
            if (property.getParameterCount() != 0 || property.isDefault() || Modifier.isStatic(property.getModifiers())) {
                continue;
            }
            String name = prefix + "." + propertyName(property);
            Object value = value(property, values);
            if (value == null) {
                continue;
            }
            if (isGroup(property.getReturnType())) {
                collect(property.getReturnType(), name, value, problems);
                continue;
            }
            for (String broken : broken(property, value)) {
                problems.add(name + " " + broken);
            }
        }
    }

    private static List<String> broken(Method property, Object value) {
        List<String> broken = new ArrayList<>(1);
        Min min = property.getAnnotation(Min.class);
        if (min != null && ((Number) value).longValue() < min.value()) {
            broken.add("must be greater than or equal to " + min.value());
        }
        Max max = property.getAnnotation(Max.class);
        if (max != null && ((Number) value).longValue() > max.value()) {
            broken.add("must be less than or equal to " + max.value());
        }
        if (property.isAnnotationPresent(Positive.class)) {
            if (value instanceof Duration duration && (duration.isNegative() || duration.isZero())) {
                broken.add("must be longer than 0");
            } else if (value instanceof Number number && decimal(number).signum() <= 0) {
                broken.add("must be greater than 0");
            }
        }
        DecimalMin decimalMin = property.getAnnotation(DecimalMin.class);
        if (decimalMin != null && decimal((Number) value).compareTo(new BigDecimal(decimalMin.value())) < 0) {
            broken.add("must be greater than or equal to " + decimalMin.value());
        }
        DecimalMax decimalMax = property.getAnnotation(DecimalMax.class);
        if (decimalMax != null && decimal((Number) value).compareTo(new BigDecimal(decimalMax.value())) > 0) {
            broken.add("must be less than or equal to " + decimalMax.value());
        }
        if (property.isAnnotationPresent(PowerOfTwo.class) && Long.bitCount(((Number) value).longValue()) != 1) {
            broken.add("must be a power of two");
        }
        return broken;
    }

    private static BigDecimal decimal(Number number) {
        return number instanceof Double || number instanceof Float
                ? BigDecimal.valueOf(number.doubleValue()) : BigDecimal.valueOf(number.longValue());
    }

    /** A property's value, an empty Optional as none. */
    private static Object value(Method property, Object values) {
        try {
            Object value = property.invoke(values);
            return value instanceof Optional<?> optional ? optional.orElse(null) : value;
        } catch (IllegalAccessException | InvocationTargetException e) {
            throw new IllegalStateException("reading " + property.getName() + " of the configuration", e);
        }
    }

    /** Groups of properties are the configuration's nested interfaces. */
    private static boolean isGroup(Class<?> type) {
        return type.isInterface() && type.getName().startsWith(AgentConfig.class.getName() + "$");
    }

    /** As SmallRye names a property: its @WithName, or its method's name in kebab case. */
    private static String propertyName(Method property) {
        WithName withName = property.getAnnotation(WithName.class);
        if (withName != null) {
            return withName.value();
        }
        StringBuilder name = new StringBuilder();
        for (char c : property.getName().toCharArray()) {
            if (Character.isUpperCase(c)) {
                name.append('-').append(Character.toLowerCase(c));
            } else {
                name.append(c);
            }
        }
        return name.toString();
    }
}
